"""Visitor identity over real HTTP: the collector mints the id, and only its cookie proves it.

A collector process against the shared Kafka and Redis (unique topics; the ids it mints are
random, so the Redis keys are its own). What an attacker would try: name another visitor's id
in a body, keep using an erased id, read the cookie from another site, post the privacy
center's forms from elsewhere.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from redis import Redis

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from consentstream.settings import CommonSettings
from tests.e2e.processes import free_port
from tests.integration.test_collector import (
    TS,
    Collector,
    as_cookie,
    consent_body,
    cookie_id,
    event,
    running_collector,
)

pytestmark = pytest.mark.integration

THIRTEEN_MONTHS = 395 * 86_400
SITE = "https://www.example.com"


@pytest.fixture(scope="module")
def behind_proxy(
    stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Collector]:
    """A collector that believes X-Forwarded-* from 127.0.0.1 and lists one site origin.

    Its API is a closed port: a privacy-center form that passes the CSRF check gets 503.
    """
    with running_collector(
        tmp_path_factory.mktemp("identity"),
        stack,
        trusted_proxies='["127.0.0.1/32"]',
        cors_origins=f'["{SITE}"]',
        api_url=f"http://127.0.0.1:{free_port()}",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def redis(stack: CommonSettings) -> Iterator[Redis]:
    client = Redis.from_url(stack.redis_url)
    yield client
    client.close()


def subject(stack: CommonSettings, visitor: str) -> str:
    return pseudonymize(visitor, stack.pseudonym_key.get_secret_value())


def visitor_cookie(answer: httpx.Response) -> SimpleCookie:
    headers = [h for h in answer.headers.get_list("set-cookie") if h.startswith("cs_vid=")]
    assert len(headers) == 1, headers
    jar: SimpleCookie = SimpleCookie()
    jar.load(headers[0])
    return jar


def cleared(answer: httpx.Response) -> bool:
    cookie = visitor_cookie(answer)["cs_vid"]
    return cookie.value in ("", '""') and cookie["max-age"] == "0"


def in_force(collector: Collector, visitor: str) -> dict[str, object]:
    """The choices in force, as the browser holding ``visitor``'s cookie reads them."""
    answer = httpx.get(f"{collector.url}/v1/consent", headers=as_cookie(visitor), timeout=10)
    assert answer.status_code == 200, answer.text
    choices: dict[str, object] = answer.json()["choices"]
    return choices


def read_by_id(collector: Collector, visitor: str, **headers: str) -> httpx.Response:
    """The v1 path-form read of ``visitor``'s decision, with whatever cookie ``headers`` hold."""
    return httpx.get(f"{collector.url}/v1/consent/{visitor}", headers=headers, timeout=10)


def erase(stack: CommonSettings, redis: Redis, visitor: str) -> None:
    """What an erasure leaves for the collector to see: the suppression mark, no mirror."""
    key = subject(stack, visitor)
    redis.set(redis_keys.suppressed(key), b"1", ex=600)
    redis.delete(redis_keys.consent(key))


def ignored_count(collector: Collector, route: str) -> float:
    text = httpx.get(f"{collector.url}/metrics", timeout=10).text
    pattern = rf'^collector_body_visitor_ids_ignored_total{{route="{route}"}} (\S+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_a_grant_mints_an_id_into_an_http_only_cookie_and_no_body_carries_it(
    behind_proxy: Collector,
) -> None:
    answer = behind_proxy.post("/v1/consent", json=consent_body(analytics=True))
    assert answer.status_code == 201
    cookie = visitor_cookie(answer)["cs_vid"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cookie.value)
    assert cookie["max-age"] == str(THIRTEEN_MONTHS)
    assert cookie["httponly"] is True and cookie["samesite"].lower() == "lax"
    assert not cookie["secure"]  # plain http between proxy and browser
    assert cookie.value not in answer.text and answer.json()["visitor_token"] is None
    again = behind_proxy.post("/v1/consent", json=consent_body(analytics=True))
    assert cookie_id(again) != cookie.value, "every new browser gets an id of its own"


def test_another_visitors_id_gets_no_token_and_cannot_overwrite_their_consent(
    behind_proxy: Collector,
) -> None:
    victim = behind_proxy.grant()
    before = ignored_count(behind_proxy, "consent")
    forged = {**consent_body(analytics=True, marketing=True), "visitor_id": victim}
    answer = behind_proxy.post("/v1/consent", json=forged)
    assert answer.status_code == 201
    assert answer.json()["visitor_token"] is None and victim not in answer.text
    assert cookie_id(answer) not in (None, victim), "the attacker gets a new id, not the victim's"
    withdrawal = {**consent_body(analytics=False), "visitor_id": victim}
    assert behind_proxy.post("/v1/consent", json=withdrawal).status_code == 201
    assert in_force(behind_proxy, victim)["analytics"] is True
    assert in_force(behind_proxy, victim)["marketing"] is False
    assert ignored_count(behind_proxy, "consent") == before + 2


def test_a_decision_is_read_with_its_own_cookie_only(behind_proxy: Collector) -> None:
    victim, mine = behind_proxy.grant(), behind_proxy.grant()
    own = read_by_id(behind_proxy, mine, **as_cookie(mine))
    assert own.status_code == 200 and own.json()["choices"]["analytics"] is True
    never_minted = "AAAAAAAAAAAAAAAAAAAAAA"
    foreign = [
        read_by_id(behind_proxy, victim, **as_cookie(mine)),  # another visitor's id, my cookie
        read_by_id(behind_proxy, victim),  # no cookie at all
        read_by_id(behind_proxy, never_minted, **as_cookie(mine)),
    ]
    assert [answer.status_code for answer in foreign] == [403, 403, 403]
    assert len({answer.text for answer in foreign}) == 1, "an existing visitor reads as any id"
    assert victim not in foreign[0].text and mine not in foreign[0].text
    assert foreign[0].json()["error"]["code"] == "forbidden"
    assert not foreign[0].headers.get_list("set-cookie"), "a live cookie is kept"


def test_the_cookie_read_answers_the_cookies_decision_and_necessary_only_without(
    behind_proxy: Collector,
) -> None:
    mine = behind_proxy.grant()
    own = httpx.get(f"{behind_proxy.url}/v1/consent", headers=as_cookie(mine), timeout=10)
    assert own.json()["choices"]["analytics"] is True and own.json()["consent_id"]
    assert own.headers["cache-control"] == "private, no-store", "one visitor's, never shared"
    assert not own.headers.get_list("set-cookie")
    nobody = httpx.get(f"{behind_proxy.url}/v1/consent", timeout=10).json()
    assert nobody["consent_id"] is None
    assert nobody["choices"] == {
        "necessary": True,
        "analytics": False,
        "marketing": False,
        "preferences": False,
    }


def test_an_erased_cookie_reads_nothing_and_is_cleared(
    behind_proxy: Collector, stack: CommonSettings, redis: Redis
) -> None:
    erased = behind_proxy.grant()
    erase(stack, redis, erased)
    by_id = read_by_id(behind_proxy, erased, **as_cookie(erased))
    assert by_id.status_code == 403 and cleared(by_id)
    by_cookie = httpx.get(f"{behind_proxy.url}/v1/consent", headers=as_cookie(erased), timeout=10)
    assert by_cookie.status_code == 200 and cleared(by_cookie)
    read = by_cookie.json()
    assert read["consent_id"] is None and read["choices"]["analytics"] is False


def test_events_belong_to_the_cookie_not_to_the_body(behind_proxy: Collector) -> None:
    mine, someone = behind_proxy.grant(), behind_proxy.grant()
    before = ignored_count(behind_proxy, "events")
    batch = [event(visitor_id=someone), event(), event(visitor_id=mine)]
    answer = behind_proxy.events(mine, json={"events": batch, "sent_at": TS})
    assert answer.json()["accepted"] == 3
    anonymous = event(visitor_id=someone)
    assert behind_proxy.events(json=anonymous).json()["accepted"] == 1
    stored = {m["event"]["event_id"]: m["event"] for m in behind_proxy.raw_events()}
    assert [stored[e["event_id"]]["visitor_id"] for e in batch] == [mine] * 3
    assert stored[anonymous["event_id"]].get("visitor_id") is None, "no cookie: anonymous"
    assert ignored_count(behind_proxy, "events") == before + 2


def test_an_erased_id_is_dead_and_the_next_grant_mints_a_new_one(
    behind_proxy: Collector, stack: CommonSettings, redis: Redis
) -> None:
    erased = behind_proxy.grant()
    key = subject(stack, erased)
    erase(stack, redis, erased)
    late = event()
    answer = behind_proxy.events(erased, json=late)
    assert answer.status_code == 202 and cleared(answer)
    [stored] = [
        m["event"] for m in behind_proxy.raw_events() if m["event"]["event_id"] == late["event_id"]
    ]
    assert stored.get("visitor_id") is None
    page = httpx.get(f"{behind_proxy.url}/privacy/", headers=as_cookie(erased), timeout=10)
    assert 'id="erased"' in page.text and erased not in page.text, "says deleted, shows no id"
    assert 'name="csrf_token"' not in page.text, "no form acts for an erased id"
    refusal = behind_proxy.post(
        "/v1/consent", json=consent_body(analytics=False), headers=as_cookie(erased)
    )
    assert cleared(refusal)
    grant = behind_proxy.post(
        "/v1/consent", json=consent_body(analytics=True), headers=as_cookie(erased)
    )
    fresh = cookie_id(grant)
    assert fresh and fresh != erased
    assert not redis.exists(redis_keys.consent(key)), "nothing stored for the erased id"
    recorded = {m["consent_id"]: m["visitor_id"] for _, m in behind_proxy.raw_consents()}
    assert recorded[refusal.json()["consent_id"]] is None, "the refusal names no one"
    assert recorded[grant.json()["consent_id"]] == fresh


def test_a_withdrawal_reaches_the_visitor_clears_the_cookie_and_a_new_grant_mints_anew(
    behind_proxy: Collector,
) -> None:
    first = behind_proxy.grant()
    answer = behind_proxy.post(
        "/v1/consent", json=consent_body(analytics=False), headers=as_cookie(first)
    )
    assert answer.status_code == 201 and cleared(answer)
    assert in_force(behind_proxy, first)["analytics"] is False
    assert behind_proxy.grant() != first


def test_https_at_a_trusted_proxy_makes_the_cookie_secure(behind_proxy: Collector) -> None:
    answer = behind_proxy.post(
        "/v1/consent",
        json=consent_body(analytics=True),
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.20"},
    )
    assert visitor_cookie(answer)["cs_vid"]["secure"] is True


def test_cors_credentials_for_the_listed_origin_only(behind_proxy: Collector) -> None:
    def ask(origin: str, path: str = "/v1/events") -> httpx.Headers:
        body = {"events": [event()]}
        if path == "/snippet.js":
            return httpx.get(behind_proxy.url + path, headers={"Origin": origin}).headers
        return behind_proxy.post(path, json=body, headers={"Origin": origin}).headers

    listed = ask(SITE)
    assert listed["access-control-allow-origin"] == SITE
    assert listed["access-control-allow-credentials"] == "true"
    for path in ("/v1/events", "/snippet.js"):
        other = ask("https://evil.example.net", path)
        assert "access-control-allow-credentials" not in other
        assert other.get("access-control-allow-origin") in (None, "*")
    preflight = httpx.options(
        f"{behind_proxy.url}/v1/consent",
        headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-credentials" not in preflight.headers
    center = httpx.get(f"{behind_proxy.url}/privacy/", headers={"Origin": SITE})
    assert "access-control-allow-origin" not in center.headers, "no site reads the center"


def test_privacy_center_requests_need_the_csrf_token_of_this_browser_and_visitor(
    behind_proxy: Collector,
) -> None:
    visitor = behind_proxy.grant()
    with httpx.Client(base_url=behind_proxy.url, timeout=10) as browser:
        browser.cookies.set("cs_vid", visitor)
        page = browser.get("/privacy/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text
        route = "/privacy/requests"
        form = {"kind": "deletion", "csrf_token": token.group(1)}
        assert browser.post(route, data={"kind": "deletion"}).status_code == 403
        assert browser.post(route, data={**form, "csrf_token": "x" * 43}).status_code == 403
        elsewhere = {"Origin": "https://evil.example.com"}
        assert browser.post(route, data=form, headers=elsewhere).status_code == 403
        # Passed the check: the API (a closed port here) is the next step.
        assert browser.post(route, data=form).status_code == 503
    tossed = {"Cookie": f"cs_vid={visitor}; cs_pc_csrf=tossed-{uuid.uuid4().hex}"}
    answer = httpx.post(f"{behind_proxy.url}{route}", data=form, headers=tossed)
    assert answer.status_code == 403, "a planted CSRF cookie cannot match a signed token"


def test_untrusted_peer_cannot_claim_https_and_lifetime_is_configurable(
    stack: CommonSettings, tmp_path: Path
) -> None:
    with running_collector(
        tmp_path,
        stack,
        visitor_cookie_max_age_seconds="3600",
        visitor_cookie_domain="example.com",
        allowed_hosts='["127.0.0.1", "collect.example.com"]',
    ) as direct:
        answer = direct.post(
            "/v1/consent",
            json=consent_body(analytics=True),
            headers={"X-Forwarded-Proto": "https"},
        )
    cookie = visitor_cookie(answer)["cs_vid"]
    assert cookie["max-age"] == "3600" and not cookie["secure"]
    assert cookie["domain"].lstrip(".") == "example.com"
