"""Visitor identity over real HTTP: first-party cookie and signed token after analytics consent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest

from consentstream.identity import read_visitor_token
from consentstream.settings import CommonSettings
from tests.integration.test_collector import Collector, consent_body, running_collector

pytestmark = pytest.mark.integration

KEY = "receipt-key-for-tests-only"
THIRTEEN_MONTHS = 395 * 86_400


@pytest.fixture(scope="module")
def behind_proxy(
    stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Collector]:
    """A collector that believes X-Forwarded-* from 127.0.0.1 (the test client)."""
    with running_collector(
        tmp_path_factory.mktemp("identity"),
        stack,
        trusted_proxies='["127.0.0.1/32"]',
        receipt_key=KEY,
    ) as running:
        yield running


def visitor_cookie(answer: httpx.Response) -> SimpleCookie:
    headers = answer.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    jar: SimpleCookie = SimpleCookie()
    jar.load(headers[0])
    assert list(jar) == ["cs_vid"]
    return jar


def test_analytics_consent_sets_a_long_lived_http_only_cookie(behind_proxy: Collector) -> None:
    body = consent_body(analytics=True)
    answer = behind_proxy.post("/v1/consent", json=body)
    assert answer.status_code == 201
    cookie = visitor_cookie(answer)["cs_vid"]
    assert cookie.value == body["visitor_id"]
    assert cookie["max-age"] == str(THIRTEEN_MONTHS)
    assert cookie["httponly"] is True and cookie["samesite"].lower() == "lax"
    assert not cookie["secure"]  # plain http between proxy and browser


def test_the_visitor_token_names_the_visitor_and_expires_with_the_cookie(
    behind_proxy: Collector,
) -> None:
    body = consent_body(analytics=True)
    token = behind_proxy.post("/v1/consent", json=body).json()["visitor_token"]
    now = int(time.time())
    assert read_visitor_token(token, KEY, now) == body["visitor_id"]
    assert read_visitor_token(token, KEY, now + THIRTEEN_MONTHS + 60) is None
    assert read_visitor_token(token, "another-key", now) is None


def test_https_at_a_trusted_proxy_makes_the_cookie_secure(behind_proxy: Collector) -> None:
    answer = behind_proxy.post(
        "/v1/consent",
        json=consent_body(analytics=True),
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.20"},
    )
    assert visitor_cookie(answer)["cs_vid"]["secure"] is True


def test_decline_sets_no_identifier_and_clears_an_existing_cookie(behind_proxy: Collector) -> None:
    body = consent_body(analytics=False, marketing=True)
    answer = behind_proxy.post(
        "/v1/consent", json=body, headers={"Cookie": f"cs_vid={body['visitor_id']}"}
    )
    assert answer.status_code == 201
    assert answer.json()["visitor_token"] is None
    cookie = visitor_cookie(answer)["cs_vid"]
    assert cookie.value in ("", '""') and cookie["max-age"] == "0"


def test_untrusted_peer_cannot_claim_https_and_lifetime_is_configurable(
    stack: CommonSettings, tmp_path: Path
) -> None:
    with running_collector(tmp_path, stack, visitor_cookie_max_age_seconds="3600") as direct:
        answer = direct.post(
            "/v1/consent",
            json=consent_body(analytics=True),
            headers={"X-Forwarded-Proto": "https"},
        )
    cookie = visitor_cookie(answer)["cs_vid"]
    assert cookie["max-age"] == "3600" and not cookie["secure"]
