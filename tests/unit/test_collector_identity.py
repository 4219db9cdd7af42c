"""Visitor tokens, minted ids, cookie attribution of events and the privacy center's CSRF token."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from consentstream.identity import pseudonymize, read_visitor_token, visitor_token
from services.collector import csrf
from services.collector.config import CollectorSettings
from services.collector.facts import is_https, parse_networks
from services.collector.visitor import (
    COOKIE_ID,
    CookieSubject,
    Visitor,
    attribute_events,
    mint,
    request_key,
)

KEY = "unit-test-key"
NOW = 1_800_000_000


def test_token_round_trip_until_expiry() -> None:
    token = visitor_token("visitor-0001", NOW + 10, KEY)
    assert read_visitor_token(token, KEY, NOW) == "visitor-0001"
    assert read_visitor_token(token, KEY, NOW + 10) is None


def test_edited_or_garbage_tokens_are_refused() -> None:
    token = visitor_token("visitor-0001", NOW + 10, KEY)
    other = visitor_token("visitor-0002", NOW + 10, KEY)
    forged = other.split(".")[0] + "." + token.split(".")[1]
    for bad in (forged, "", "x", "....", token + "x", "bm9wZQ.sig"):
        assert read_visitor_token(bad, KEY, NOW) is None


def test_minted_ids_are_random_and_fit_the_visitor_id_shape() -> None:
    ids = {mint() for _ in range(100)}
    assert len(ids) == 100 and all(COOKIE_ID.match(i) and len(i) == 22 for i in ids)


def test_events_carry_the_cookie_id_whatever_their_body_says() -> None:
    items = [{"visitor_id": "someone-else-01"}, {"visitor_id": "cookie-id-0001"}, {}]
    assert attribute_events(items, "cookie-id-0001") == 1
    assert [i["visitor_id"] for i in items] == ["cookie-id-0001"] * 3
    anonymous = [{"visitor_id": "someone-else-01"}, {}]
    assert attribute_events(anonymous, None) == 1
    assert anonymous == [{"visitor_id": None}, {}]


def test_a_request_is_keyed_by_its_live_cookie_visitor() -> None:
    subject = pseudonymize("cookie-id-0001", KEY)
    cookie = CookieSubject("cookie-id-0001", subject)
    assert request_key(cookie.visitor(erased=False), cookie) == subject.encode()
    assert cookie.visitor(erased=True) == Visitor(None, dead=True, erased_id="cookie-id-0001")
    assert request_key(cookie.visitor(erased=True), cookie) is None
    none = CookieSubject(None, None)
    assert request_key(none.visitor(erased=False), none) is None
    malformed = CookieSubject(None, None, malformed=True)
    assert malformed.visitor(erased=False) == Visitor(None, dead=True)


def test_csrf_token_is_bound_to_the_nonce_the_visitor_and_the_key() -> None:
    token = csrf.token_for("nonce-1", "visitor-0001", KEY)
    cookies, headers = {csrf.COOKIE: "nonce-1"}, {"host": "c.example.com"}
    assert csrf.valid(cookies, headers, token, "visitor-0001", KEY)
    assert not csrf.valid(cookies, headers, token, "visitor-0002", KEY)
    assert not csrf.valid({csrf.COOKIE: "tossed"}, headers, token, "visitor-0001", KEY)
    assert not csrf.valid({}, headers, token, "visitor-0001", KEY)
    assert not csrf.valid(cookies, headers, "", "visitor-0001", KEY)
    other_site = {"host": "c.example.com", "origin": "https://evil.example.com"}
    assert not csrf.valid(cookies, other_site, token, "visitor-0001", KEY)
    own_site = {"host": "c.example.com", "origin": "https://c.example.com"}
    assert csrf.valid(cookies, own_site, token, "visitor-0001", KEY)
    no_referrer = {"host": "c.example.com", "origin": "null"}
    assert csrf.valid(cookies, no_referrer, token, "visitor-0001", KEY)


def test_forwarded_proto_only_from_a_trusted_proxy() -> None:
    proxies = parse_networks(["192.0.2.0/28"])
    assert is_https("192.0.2.2", "http", "https", proxies)
    assert not is_https("203.0.113.7", "http", "https", proxies)
    assert is_https("203.0.113.7", "https", None, proxies)


def test_a_wildcard_cors_origin_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="cors_origins"):
        CollectorSettings(cors_origins=["*"])
