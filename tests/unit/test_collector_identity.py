"""Visitor tokens: verifiable, bound to one visitor and key, and useless once expired or edited."""

from __future__ import annotations

from datetime import UTC, datetime

from consentstream.identity import read_visitor_token, visitor_token
from schemas.events import ConsentChoices
from schemas.messages import ConsentDecision
from services.collector.facts import is_https, parse_networks
from services.collector.visitor import VisitorIdentity, identity_for

KEY = "unit-test-key"
NOW = 1_800_000_000


def decision(analytics: bool) -> ConsentDecision:
    return ConsentDecision(
        consent_id="c1",
        visitor_id="visitor-0001",
        choices=ConsentChoices(analytics=analytics, marketing=False, preferences=False),
        policy_version="2026-01",
        policy_hash="h",
        banner_hash="b",
        source="banner",
        recorded_at=datetime.fromtimestamp(NOW, UTC),
        gpc=False,
        dnt=False,
        gpc_applied=False,
    )


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


def test_identity_only_with_analytics_consent() -> None:
    granted = identity_for(decision(True), "cs_vid", 100, True, KEY)
    assert granted.cookie is not None
    assert granted.cookie.value == "visitor-0001" and granted.cookie.max_age == 100
    assert granted.token and read_visitor_token(granted.token, KEY, NOW + 99) == "visitor-0001"
    declined = identity_for(decision(False), "cs_vid", 100, True, KEY)
    assert declined.cookie is not None
    assert declined.cookie.value is None and declined.token is None


def test_forwarded_proto_only_from_a_trusted_proxy() -> None:
    proxies = parse_networks(["192.0.2.0/28"])
    assert is_https("192.0.2.2", "http", "https", proxies)
    assert not is_https("203.0.113.7", "http", "https", proxies)
    assert is_https("203.0.113.7", "https", None, proxies)


def test_an_anonymous_grant_leaves_the_cookie_alone() -> None:
    anonymous = decision(True).model_copy(update={"visitor_id": None})
    assert identity_for(anonymous, "cs_vid", 100, True, KEY) == VisitorIdentity(None, None)
