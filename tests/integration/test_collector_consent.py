"""Every consent decision reaches the consent topic, a refusal too, and a retry records it once.

Over real HTTP against a collector process, Kafka and Redis, as in test_collector.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from consentstream.settings import CommonSettings

from .test_collector import Collector, cookie_id, running_collector


@pytest.fixture(scope="module")
def collector(
    stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Collector]:
    with running_collector(tmp_path_factory.mktemp("consent"), stack) as running:
        yield running


def refusal(**overrides: Any) -> dict[str, Any]:
    """ "Reject all" as the snippet posts it: a decision id and no visitor id."""
    return {
        "decision_id": str(uuid.uuid4()),
        "choices": {"analytics": False, "marketing": False, "preferences": False},
        "policy_version": "2026-01",
        "policy_hash": "sha256-test",
        "banner_hash": "banner-test",
        "source": "banner",
        **overrides,
    }


def test_a_refusal_without_a_visitor_id_is_recorded_anonymously(collector: Collector) -> None:
    body = refusal()
    answer = collector.post("/v1/consent", json=body)
    assert answer.status_code == 201, answer.text
    recorded = answer.json()
    assert recorded["consent_id"] == uuid.UUID(body["decision_id"]).hex
    assert recorded["receipt"] and recorded["visitor_token"] is None
    assert "cs_vid=" not in answer.headers.get("set-cookie", "").replace('cs_vid=""', "")
    [(key, message)] = [
        (k, m) for k, m in collector.raw_consents() if m["consent_id"] == recorded["consent_id"]
    ]
    assert message["visitor_id"] is None
    assert key == recorded["consent_id"].encode(), "keyed by the decision, not by a person"
    assert message["choices"] == {
        "necessary": True,
        "analytics": False,
        "marketing": False,
        "preferences": False,
    }
    assert (message["policy_hash"], message["banner_hash"]) == ("sha256-test", "banner-test")


def test_a_marketing_grant_without_analytics_is_recorded(collector: Collector) -> None:
    body = refusal(choices={"analytics": False, "marketing": True, "preferences": True})
    answer = collector.post("/v1/consent", json=body)
    assert answer.status_code == 201, answer.text
    [message] = [
        m for _, m in collector.raw_consents() if m["consent_id"] == answer.json()["consent_id"]
    ]
    assert message["choices"]["marketing"] is True and message["visitor_id"] is None


def test_a_retried_decision_is_recorded_once_and_answered_alike(collector: Collector) -> None:
    body = refusal()
    first = collector.post("/v1/consent", json=body)
    again = collector.post("/v1/consent", json=body)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json(), "the lost answer comes back unchanged"
    consent_id = first.json()["consent_id"]
    copies = [m for _, m in collector.raw_consents() if m["consent_id"] == consent_id]
    assert len(copies) == 1


def test_a_decision_id_must_be_a_uuid(collector: Collector) -> None:
    answer = collector.post("/v1/consent", json=refusal(decision_id="not-a-uuid"))
    assert answer.status_code == 422
    assert "decision_id" in answer.text


def test_an_erased_visitors_late_decision_writes_no_mirror(collector: Collector) -> None:
    secret = CommonSettings().pseudonym_key.get_secret_value()
    redis = Redis.from_url(CommonSettings().redis_url)
    erased, other = (f"erased-{uuid.uuid4().hex[:12]}", f"other-{uuid.uuid4().hex[:12]}")
    erased_key, other_key = pseudonymize(erased, secret), pseudonymize(other, secret)
    redis.set(redis_keys.suppressed(erased_key), b"1")  # what an erasure sets first
    grant = {"analytics": True, "marketing": False, "preferences": False}
    try:
        for visitor in (erased, other):
            answer = collector.post(
                "/v1/consent",
                json=refusal(visitor_id=visitor, choices=grant),
                cookies={"cs_vid": visitor},
            )
            assert answer.status_code == 201, answer.text
        assert redis.get(redis_keys.consent(other_key)), "a visitor not erased is mirrored"
        assert redis.get(redis_keys.consent(erased_key)) is None, "the erased one is not"
    finally:
        redis.delete(redis_keys.suppressed(erased_key), redis_keys.consent(other_key))
        redis.close()


def test_a_retry_claim_keeps_the_pseudonym_never_the_raw_id(collector: Collector) -> None:
    """The claim a retried grant is answered from names the visitor by pseudonym only."""
    secret = CommonSettings().pseudonym_key.get_secret_value()
    grant = refusal(choices={"analytics": True, "marketing": False, "preferences": False})
    first = collector.post("/v1/consent", json=grant)
    assert first.status_code == 201, first.text
    minted = cookie_id(first)
    assert minted
    redis = Redis.from_url(CommonSettings().redis_url)
    try:
        claim = redis.get(redis_keys.consent_decision(first.json()["consent_id"]))
    finally:
        redis.close()
    assert claim is not None and minted.encode() not in claim
    assert pseudonymize(minted, secret).encode() in claim
    again = collector.post("/v1/consent", json=grant, cookies={"cs_vid": minted})
    assert again.status_code == 201 and again.json() == first.json()
    assert cookie_id(again) in (None, minted), "a retry never names another visitor"
