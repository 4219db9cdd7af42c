"""A decision that arrives as its visitor is erased never reaches the consent topic.

The collector runs in this process (real Kafka and Redis, topics and keys of its own) so the
erasure can land at the one moment that matters: after the request's cookie was read as live,
before the decision is produced. Whatever the browser chose, nothing is recorded for the erased
id, no data key is made for it again, and the browser is answered as an erased cookie is.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import Request

from consentstream import redis_keys
from consentstream.identity import pseudonymize
from consentstream.kafka_topics import ensure_topics, plan
from consentstream.settings import CommonSettings
from consentstream.topics import Topics
from services.collector import visitor
from services.collector.app import create_app
from services.collector.config import CollectorSettings
from services.collector.deps import CollectorState
from tests.integration.test_collector import consent_body, read_raw_records
from tests.integration.test_collector_identity import cleared

pytestmark = pytest.mark.integration

Scenario = Callable[[httpx.AsyncClient, CollectorState], Awaitable[None]]


def uncached_settings(stack: CommonSettings, name: str, **more: Any) -> CollectorSettings:
    """A collector on topics of its own whose every seal asks the key store, as after a
    cache expiry (where the races of an erasure with a request live)."""
    topics = Topics(f"{name}{secrets.token_hex(4)}.")
    ensure_topics(stack.kafka_bootstrap, plan(topics, 1, 24))
    return CollectorSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        redis_url=stack.redis_url,
        topic_prefix=topics.prefix,
        rate_limit_per_second=0,
        data_key_cache_seconds=0,
        **more,
    )


@pytest.fixture(scope="module")
def settings(stack: CommonSettings) -> CollectorSettings:
    return uncached_settings(stack, "late")


@asynccontextmanager
async def serving(settings: CollectorSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.30", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            client.app_state = app.state.collector  # type: ignore[attr-defined]
            yield client


async def erase(state: CollectorState, subject: str) -> None:
    """What an erasure does first: the suppression mark, the data key destroyed, no mirror."""
    await state.redis.set(redis_keys.suppressed(subject), b"1", ex=600)
    await state.sealer.keys.store.destroy(subject)
    await state.redis.delete(redis_keys.consent(subject))


@pytest.mark.parametrize("analytics", [True, False], ids=["grant", "withdrawal"])
def test_a_decision_racing_the_erasure_records_nothing_for_the_erased_id(
    settings: CollectorSettings, monkeypatch: pytest.MonkeyPatch, analytics: bool
) -> None:
    secret = settings.pseudonym_key.get_secret_value()
    read_cookie = visitor.visitor_of

    async def main() -> None:
        async with serving(settings) as client:
            state: CollectorState = client.app_state  # type: ignore[attr-defined]
            first = await client.post("/v1/consent", json=consent_body(analytics=True))
            erased = first.cookies["cs_vid"]
            subject = pseudonymize(erased, secret)

            async def erased_after_reading(request: Request, st: CollectorState) -> object:
                who = await read_cookie(request, st)
                await erase(st, subject)  # the deletion lands right after the cookie check
                return who

            monkeypatch.setattr(visitor, "visitor_of", erased_after_reading)
            late = await client.post(
                "/v1/consent",
                json=consent_body(analytics=analytics, marketing=analytics),
                headers={"Cookie": f"cs_vid={erased}"},
            )
            monkeypatch.setattr(visitor, "visitor_of", read_cookie)
            assert late.status_code == 201, late.text
            if analytics:  # a grant from an erased cookie is a new visitor's, never the old
                fresh = late.cookies.get("cs_vid")
                assert fresh not in (None, erased)
                recorded_as = pseudonymize(fresh, secret).encode()
            else:  # a withdrawal: recorded anonymously, and the browser forgets the id
                assert cleared(late)
                recorded_as = late.json()["consent_id"].encode()
            keys = [key for key, _ in read_raw_records(settings.kafka_bootstrap, topic)]
            assert keys.count(subject.encode()) == 1, "only the decision before the erasure"
            assert recorded_as in keys
            assert await state.sealer.keys.store.get(subject) is None, "no new data key"
            assert not await state.redis.exists(redis_keys.consent(subject))

    topic = Topics(settings.topic_prefix).consent
    asyncio.run(main())
