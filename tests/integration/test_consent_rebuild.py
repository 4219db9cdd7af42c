"""`consentstream consent rebuild`: a lost Redis gets its consent state back from the ledger."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from consentstream import redis_keys
from consentstream.settings import CommonSettings
from consentstream.storage import Storage, open_storage, sql
from consentstream.storage.repository import Repository
from ops.consent_rebuild import rebuild
from streams import consent_history
from streams.consent_state import consent_at

from .storage_fixtures import consent, server_url

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
KEEP = timedelta(days=400)


@pytest.fixture
def redis(stack: CommonSettings) -> Iterator[Redis]:
    client = Redis.from_url(stack.redis_url)
    yield client
    client.close()


def keys(n: int) -> list[str]:
    run = secrets.token_hex(6)
    return [f"rebuild{run}{i:02d}" for i in range(n)]


def forget(redis: Redis, visitor_keys: list[str]) -> None:
    for key in visitor_keys:
        names = (redis_keys.consent(key), redis_keys.consent_history(key))
        redis.delete(*names, redis_keys.suppressed(key))


async def test_histories_and_decisions_in_force_come_back(
    storage: Storage, redis: Redis, stack: CommonSettings
) -> None:
    granted, withdrew, erased, newer_mirror, expired = visitors = keys(5)
    repo = Repository(storage)
    repo.insert_consents(
        [
            consent(granted, recorded_at=T0, analytics=True, gpc_applied=False),
            consent(withdrew, recorded_at=T0, analytics=True),
            consent(withdrew, recorded_at=T0 + timedelta(hours=1), analytics=False),
            consent(erased, recorded_at=T0),
            consent(newer_mirror, recorded_at=T0),
            consent(expired, recorded_at=T0 - KEEP - timedelta(days=1)),
        ]
    )
    redis.set(redis_keys.suppressed(erased), b"1")
    newer = {
        "consent_id": "from-the-collector",
        "choices": {"necessary": True, "analytics": False, "marketing": True, "preferences": False},
        "policy_version": "2026-04",
        "recorded_at": (T0 + timedelta(days=1)).isoformat(),
        "gpc_applied": False,
    }
    redis.set(redis_keys.consent(newer_mirror), orjson.dumps(newer))
    try:
        seen: list[int] = []
        before = datetime.now(UTC)  # the rebuild's clock reads this or later
        done = rebuild(repo, redis, KEEP, page=2, progress=seen.append)
        assert (done.visitors, done.decisions, done.mirrors) == (3, 4, 2)
        assert (done.skipped_erased, done.skipped_expired) == (1, 1)
        assert seen == [2, 2, 1]  # pages of two visitors
        assert not redis.exists(redis_keys.consent(expired), redis_keys.consent_history(expired))
        # the state expires KEEP after the newest decision, as if written then
        left = redis.ttl(redis_keys.consent_history(withdrew))
        assert 0 < left <= (T0 + timedelta(hours=1) + KEEP - before).total_seconds()

        mirror = orjson.loads(redis.get(redis_keys.consent(withdrew)) or b"{}")
        assert mirror["choices"]["analytics"] is False
        assert orjson.loads(redis.get(redis_keys.consent(newer_mirror)) or b"{}") == newer
        assert not redis.exists(redis_keys.consent(erased), redis_keys.consent_history(erased))

        # what the worker reads now gives each visitor the decision in force at event time
        client = AsyncRedis.from_url(stack.redis_url)
        try:
            suppressed, histories = await consent_history.load(client, visitors)
        finally:
            await client.aclose()
        assert suppressed == {erased}
        assert len(histories[erased]) == 0
        before, after = T0 + timedelta(minutes=30), T0 + timedelta(hours=2)
        in_force = consent_at(histories[withdrew], before)
        assert in_force is not None and in_force.grants("analytics")
        in_force = consent_at(histories[withdrew], after)
        assert in_force is not None and not in_force.grants("analytics")
        assert histories[newer_mirror].latest_is("from-the-collector")
    finally:
        forget(redis, visitors)


def test_the_cli_rebuilds_and_says_what_it_wrote(stack: CommonSettings, redis: Redis) -> None:
    database = f"cs_rebuild_{secrets.token_hex(4)}"
    store = open_storage(server_url(database))
    visitors = keys(3)
    try:
        store.migrate()
        Repository(store).insert_consents([consent(k, recorded_at=T0) for k in visitors])
        env = {**os.environ, "CONSENTSTREAM_CLICKHOUSE_URL": server_url(database)}
        done = subprocess.run(
            [sys.executable, "-m", "ops.cli", "consent", "rebuild"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "3 visitors, 3 decisions" in done.stdout
        assert all(redis.hlen(redis_keys.consent_history(k)) == 1 for k in visitors)
    finally:
        forget(redis, visitors)
        store.command(sql.statement(sql.DROP_DATABASE, database))
        store.close()
