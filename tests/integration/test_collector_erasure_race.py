"""No data key made for a visitor while they are erased outlives the erasure.

An erasure destroys the visitor's data key, sets the suppression mark, and destroys the key
again. A request that read the visitor as live before the mark may make the key anew at any
point of that: between the first destruction and the mark (the second destruction takes it),
or after the whole erasure (the collector reads the mark again whenever it made a key, destroys
it, and produces nothing under it). Either way nothing of the visitor stays readable in Kafka.

The collector runs in this process (real Kafka and Redis, topics and keys of its own); the
erasure is run at the one moment that matters by a hook on the key store's SET of the new key.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from consentstream.sealing import read_envelope
from consentstream.settings import CommonSettings
from consentstream.shredding import KeyStore, is_anonymous
from consentstream.topics import Topics
from services.collector import dedupe
from services.collector.config import CollectorSettings
from services.collector.deps import CollectorState
from streams import privacy_jobs
from tests.integration.test_collector import TS, consent_body, event, read_raw_records
from tests.integration.test_collector_identity import cleared
from tests.integration.test_collector_late_consent import serving, uncached_settings
from tests.unit.test_receipt_coverage import StandInRepo

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(stack: CommonSettings) -> CollectorSettings:
    return uncached_settings(
        stack,
        "keyrace",
        master_key=secrets.token_hex(32),  # key entries of this run only
        # A key store apart from the main Redis (another database of the same server): the
        # erasure check after a key is made must read the suppression list where it lives.
        keystore_url=urlunsplit(urlsplit(stack.redis_url)._replace(path="/1")),
    )


def erase_when_the_key_is_made(
    monkeypatch: pytest.MonkeyPatch, state: CollectorState, subject: str
) -> None:
    """The erasure (destroy, mark, destroy, then the mirror) runs just before the request makes
    the subject's data key: the request had read the visitor as live."""
    store = state.sealer.keys.store
    make = store.redis.set

    async def erased_first(name: str, *args: Any, **kwargs: Any) -> Any:
        mark = redis_keys.suppressed(subject)
        if name == store.entry(subject) and not await state.redis.exists(mark):
            await store.destroy(subject)
            await state.redis.set(mark, b"1", ex=600)
            await store.destroy(subject)
            await state.redis.delete(redis_keys.consent(subject))  # then the rest goes
        return await make(name, *args, **kwargs)

    monkeypatch.setattr(store.redis, "set", erased_first)


def subjects_in(bootstrap: str, topic: str) -> list[str | None]:
    """The subject each message of the topic is sealed for (None: not sealed)."""
    found = []
    for _, value in read_raw_records(bootstrap, topic):
        envelope = read_envelope(value)
        found.append(envelope[0] if envelope else None)
    return found


Scenario = Callable[[Any, CollectorState, str, str], Awaitable[None]]


def run_racing(settings: CollectorSettings, monkeypatch: pytest.MonkeyPatch, late: Scenario) -> str:
    """A visitor grants consent (their key made), then ``late`` runs with the erasure hooked
    in; the visitor's subject key."""
    secret = settings.pseudonym_key.get_secret_value()
    subject = ""

    async def main() -> None:
        nonlocal subject
        async with serving(settings) as client:
            state: CollectorState = client.app_state  # type: ignore[attr-defined]
            first = await client.post("/v1/consent", json=consent_body(analytics=True))
            vid = first.cookies["cs_vid"]
            subject = pseudonymize(vid, secret)
            assert await state.sealer.keys.store.get(subject) is not None
            erase_when_the_key_is_made(monkeypatch, state, subject)
            await late(client, state, vid, subject)
            monkeypatch.undo()
            assert await state.sealer.keys.store.get(subject) is None, "no live key for them"

    asyncio.run(main())
    return subject


def test_events_whose_visitor_is_erased_as_the_key_is_made_are_no_ones(
    settings: CollectorSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def late(client: Any, state: CollectorState, vid: str, subject: str) -> None:
        batch = {"events": [event()], "sent_at": TS}
        answer = await client.post("/v1/events", json=batch, headers={"Cookie": f"cs_vid={vid}"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["accepted"] == 1, "the event is kept, as an erased cookie's"
        assert cleared(answer), "the browser forgets the erased id"

    subject = run_racing(settings, monkeypatch, late)
    raw = subjects_in(settings.kafka_bootstrap, Topics(settings.topic_prefix).raw_events)
    assert subject not in raw, "nothing sealed for the erased visitor"
    assert len(raw) == 1 and raw[0] is not None and is_anonymous(raw[0])


def test_a_decision_whose_visitor_is_erased_as_the_key_is_made_records_nothing_for_them(
    settings: CollectorSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = settings.pseudonym_key.get_secret_value()
    fresh: list[str] = []

    async def late(client: Any, state: CollectorState, vid: str, subject: str) -> None:
        body = consent_body(analytics=True, marketing=True)
        answer = await client.post("/v1/consent", json=body, headers={"Cookie": f"cs_vid={vid}"})
        assert answer.status_code == 201, answer.text
        fresh.append(answer.cookies.get("cs_vid"))
        assert fresh[0] not in (None, vid), "a grant from an erased cookie is a new visitor's"
        assert not await state.redis.exists(redis_keys.consent(subject))

    subject = run_racing(settings, monkeypatch, late)
    sealed_for = subjects_in(settings.kafka_bootstrap, Topics(settings.topic_prefix).consent)
    assert sealed_for.count(subject) == 1, "only the decision before the erasure"
    assert pseudonymize(fresh[0], secret) in sealed_for


def test_the_erasure_destroys_a_key_made_between_its_destruction_and_its_mark(
    stack: CommonSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = secrets.token_hex(16)

    async def main() -> dict[str, Any]:
        redis = Redis.from_url(stack.redis_url)
        store = KeyStore(redis, secrets.token_hex(32))
        await store.get_or_create(subject)
        mark = redis_keys.suppressed(subject)
        set_mark = redis.set

        async def made_before_the_mark(name: str, *args: Any, **kwargs: Any) -> Any:
            if name == mark:  # a request that read the subject as live seals now
                await store.get_or_create(subject)
            return await set_mark(name, *args, **kwargs)

        async def shred(key: str) -> dict[str, Any]:
            return {"data_key_destroyed": await store.destroy(key)}

        async def forget(key: str) -> int:
            return 0

        monkeypatch.setattr(redis, "set", made_before_the_mark)
        try:
            body = await privacy_jobs.erase(StandInRepo(), redis, subject, forget, shred=shred)  # type: ignore[arg-type]
            assert await store.get(subject) is None, "the key made meanwhile is destroyed too"
            return body
        finally:
            await redis.delete(mark)
            await redis.aclose()

    kafka = asyncio.run(main())["kafka"]
    assert kafka == {"data_key_destroyed": True, "data_keys_destroyed": 2}


@pytest.fixture(scope="module")
def shared_store(stack: CommonSettings) -> CollectorSettings:
    """The key store in the main Redis: a visitor's key is made in the dedupe claim's step."""
    return uncached_settings(stack, "keyshared", master_key=secrets.token_hex(32))


def test_an_erasure_just_before_the_claim_leaves_no_key_and_nothing_of_the_visitor(
    shared_store: CollectorSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cookie read as live and a key readied for it; the erasure then runs whole before
    the claim's step, which reads the mark with the entry: no key made, the events no one's."""
    secret = shared_store.pseudonym_key.get_secret_value()
    subject = ""

    async def main() -> None:
        nonlocal subject
        async with serving(shared_store) as client:
            state: CollectorState = client.app_state  # type: ignore[attr-defined]
            first = await client.post("/v1/consent", json=consent_body(analytics=True))
            vid = first.cookies["cs_vid"]
            subject = pseudonymize(vid, secret)
            store = state.sealer.keys.store
            assert state.sealer.offers_keys and await store.get(subject) is not None
            claim = dedupe.claim_checking

            async def erased_before_the_claim(*args: Any) -> dedupe.Claimed:
                assert args[-1] is not None, "no cached key: one is offered to the claim"
                await store.destroy(subject)
                await state.redis.set(redis_keys.suppressed(subject), b"1", ex=600)
                await store.destroy(subject)
                return await claim(*args)

            monkeypatch.setattr(dedupe, "claim_checking", erased_before_the_claim)
            batch = {"events": [event()], "sent_at": TS}
            answer = await client.post(
                "/v1/events", json=batch, headers={"Cookie": f"cs_vid={vid}"}
            )
            monkeypatch.undo()
            assert answer.status_code == 202, answer.text
            assert answer.json()["accepted"] == 1 and cleared(answer)
            assert await store.get(subject) is None, "no live key for them"

    asyncio.run(main())
    raw = subjects_in(shared_store.kafka_bootstrap, Topics(shared_store.topic_prefix).raw_events)
    assert subject not in raw and len(raw) == 1 and raw[0] is not None and is_anonymous(raw[0])
