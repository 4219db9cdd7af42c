"""The self-service route and the staff routes under a flood, over real HTTP and real Redis.

Repeats of an open request answer with it (one job, however often a visitor clicks); the
self-service route is limited per client IP, per visitor token and per visitor; staff routes
per key; failed authentications per IP, after which an address is turned away before any
lookup. Every refusal is 429 with Retry-After. Clients are told apart by X-Forwarded-For from
the trusted local proxy, at documentation addresses.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from consentstream.identity import visitor_token
from consentstream.keys import new_key

from .api_harness import RECEIPT_KEY, Api, start_api

pytestmark = pytest.mark.integration

SELF_SERVICE = "/v1/privacy/self-service/requests"
HOSTS = itertools.count(1)


def address(block: str = "198.51.100") -> dict[str, str]:
    """Headers of a new client behind the trusted proxy."""
    return {"X-Forwarded-For": f"{block}.{next(HOSTS)}"}


def token(visitor: str, seconds: int = 600) -> str:
    return visitor_token(visitor, int(time.time()) + seconds, RECEIPT_KEY)


@pytest.fixture(scope="module")
def api(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from start_api(
        stack,
        tmp_path_factory,
        worker=False,
        trusted_proxies='["127.0.0.1/32"]',
        self_service_per_ip="5",
        self_service_per_token="3",
        self_service_per_subject="4",
        staff_requests_per_minute="5",
        failed_auth_per_ip="3",
    )


def own(api: Api, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{api.url}{SELF_SERVICE}", json=body, headers=headers, timeout=30)


def assert_limited(got: httpx.Response, what: str) -> None:
    assert got.status_code == 429, got.text
    assert 1 <= int(got.headers["Retry-After"]) <= 3600
    assert got.json()["error"]["code"] == "rate_limited"
    assert what in got.json()["error"]["message"]


def test_six_deletions_with_one_token_file_one_request(api: Api) -> None:
    visitor = "flood-" + secrets.token_hex(6)
    body = {"type": "deletion", "visitor_token": token(visitor)}
    answers = [own(api, body, address()) for _ in range(6)]
    codes = [a.status_code for a in answers]
    # filed once; the repeats answer with it; past three the token is limited
    assert codes == [202, 200, 200, 429, 429, 429]
    assert len({a.json()["request_id"] for a in answers[:3]}) == 1
    assert_limited(answers[3], "visitor token")
    filed = [r for r in api.repo.list_privacy_requests() if r.subject_key == api.subject(visitor)]
    assert len(filed) == 1
    audited = [e for e in api.repo.audit_entries() if e.target == api.subject(visitor)]
    assert [e.action for e in audited] == ["request.file"]


def test_new_tokens_for_one_visitor_are_limited_per_visitor(api: Api) -> None:
    visitor = "flood-" + secrets.token_hex(6)
    kinds = ["access", "deletion", "portability", "access"]
    for n, kind in enumerate(kinds):
        body = {"type": kind, "visitor_token": token(visitor, 600 + n)}
        assert own(api, body, address()).status_code in (200, 202)
    body = {"type": "deletion", "visitor_token": token(visitor, 700)}
    assert_limited(own(api, body, address()), "for this visitor")


def test_one_address_is_limited_whoever_it_files_for(api: Api) -> None:
    me, other = address("203.0.113"), address("203.0.113")
    for _ in range(5):
        body = {"type": "access", "visitor_token": token("flood-" + secrets.token_hex(6))}
        assert own(api, body, me).status_code == 202
    body = {"type": "access", "visitor_token": token("flood-" + secrets.token_hex(6))}
    assert_limited(own(api, body, me), "requests")
    assert own(api, body, other).status_code == 202


def fresh_key(api: Api, role: str = "marketing") -> dict[str, str]:
    plaintext, row = new_key(role)  # type: ignore[arg-type]
    api.repo.save_api_key(row)
    return {"Authorization": f"Bearer {plaintext}"}


def test_a_staff_key_is_limited_per_minute_and_others_are_not(api: Api) -> None:
    mine, theirs = fresh_key(api), fresh_key(api)
    url = f"{api.url}/v1/usage/visitors"
    codes = [httpx.get(url, headers={**mine, **address()}).status_code for _ in range(5)]
    assert codes == [200] * 5
    assert_limited(httpx.get(url, headers={**mine, **address()}), "with this key")
    assert httpx.get(url, headers={**theirs, **address()}).status_code == 200


def test_an_address_that_fails_to_authenticate_is_turned_away(api: Api) -> None:
    bad = {"Authorization": "Bearer cs_00000000_" + secrets.token_urlsafe(32)}
    me, other = address("192.0.2"), address("192.0.2")
    url = f"{api.url}/v1/usage/pages"
    codes = Counter(httpx.get(url, headers={**bad, **me}).status_code for _ in range(3))
    assert codes == {401: 3}
    assert_limited(httpx.get(url, headers={**bad, **me}), "failed authentications")
    # turned away before the key is looked at: a good key from there waits too
    assert_limited(httpx.get(url, headers={**fresh_key(api), **me}), "failed authentications")
    assert httpx.get(url, headers={**fresh_key(api), **other}).status_code == 200


def test_forged_visitor_tokens_count_as_failed_authentications(api: Api) -> None:
    me = address("192.0.2")
    forged = visitor_token("flood-forged", int(time.time()) + 600, "another-key")
    body = {"type": "access", "visitor_token": forged}
    assert [own(api, body, {**me}).status_code for _ in range(3)] == [401, 401, 401]
    assert_limited(own(api, body, me), "failed authentications")
