"""Master-key rotation on the real Redis: both keys work in the window, every key moves once.

Each test makes its own master keys, so its entries (named by the master keys' fingerprints) are
the only ones its scans see in the shared Redis; the subjects are random too.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from rich.console import Console
from typer.testing import CliRunner, Result

from consentstream import key_rotation
from consentstream.kafka_topics import ensure_topics, plan
from consentstream.settings import CommonSettings
from consentstream.shredding import CARRY_FORWARD, KeyStore
from consentstream.storage import Storage, open_storage, sql
from consentstream.storage.repository import Repository
from consentstream.topics import Topics
from ops import cli, cli_keystore

pytestmark = pytest.mark.integration
DAY = 86_400


def master() -> str:
    return secrets.token_hex(24)


def subjects(n: int) -> list[str]:
    return [secrets.token_hex(16) for _ in range(n)]


@pytest.fixture
async def redis(stack: CommonSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.redis_url)
    yield client
    await client.aclose()


async def test_the_window_reads_copies_and_destroys_under_both_master_keys(redis: Redis) -> None:
    old, new = master(), master()
    before = KeyStore(redis, old)
    read_only, copied, erased, unknown = subjects(4)
    keys = {s: await before.get_or_create(s) for s in (read_only, copied, erased)}
    during = KeyStore(redis, new, old)

    assert await during.get(read_only) == keys[read_only]
    many = await during.get_many([read_only, copied, unknown])
    assert many == {read_only: keys[read_only], copied: keys[copied], unknown: None}
    assert await during.get_or_create(copied) == keys[copied], "the old key, never a new one"
    assert await KeyStore(redis, new).get(copied) == keys[copied], "now under the new key too"
    assert await before.get(copied) == keys[copied], "still readable by services not yet moved"

    await during.get_or_create(erased)  # under both master keys now
    assert await during.destroy(erased)
    assert await before.get(erased) is None and await during.get(erased) is None
    fresh = await during.get_or_create(unknown)
    assert await before.get(unknown) is None and await KeyStore(redis, new).get(unknown) == fresh


async def test_rotation_moves_every_key_once_keeps_expiry_and_resumes(redis: Redis) -> None:
    old, new = master(), master()
    before = KeyStore(redis, old)
    visitors = subjects(7)
    keys = {s: await before.get_or_create(s) for s in visitors}
    anonymous = f"anon-{uuid.uuid4().hex[:10]}"
    keys[anonymous] = await before.get_or_create(anonymous, ttl_seconds=DAY)
    erased = visitors.pop()
    await before.destroy(erased)
    del keys[erased]
    during = KeyStore(redis, new, old)
    await during.get_or_create(visitors[0])  # a service copied one already
    assert await key_rotation.pending(during) == len(keys)

    class Stop(Exception):
        pass

    def stop_after_first_batch(_n: int) -> None:
        raise Stop

    with pytest.raises(Stop):  # an interrupted run leaves every key readable
        await key_rotation.rotate(during, stop_after_first_batch, batch=3)
    assert await key_rotation.pending(during) == len(keys) - 3
    again = await key_rotation.rotate(during, batch=3)
    assert again.seen == len(keys) - 3 and again.unreadable == 0
    assert await key_rotation.pending(during) == 0

    after = KeyStore(redis, new)  # the window closed: the previous key unset
    assert {s: await after.get(s) for s in keys} == keys
    assert await after.get(erased) is None, "a destroyed key never comes back"
    ttl = await redis.pttl(after.entry(anonymous))
    assert 0 < ttl <= DAY * 1000, "the anonymous key still expires by itself"
    assert not await redis.exists(*(before.entry(s) for s in keys)), "no copy under the old key"


async def test_a_move_never_brings_back_a_key_destroyed_after_it_was_read(redis: Redis) -> None:
    old, new = master(), master()
    before, during = KeyStore(redis, old), KeyStore(redis, new, old)
    [subject] = subjects(1)
    await before.get_or_create(subject)
    seen = await redis.get(before.entry(subject))
    assert seen is not None
    await during.destroy(subject)  # the erasure lands between the read and the move
    moved = await redis.eval(
        CARRY_FORWARD, 2, before.entry(subject), during.entry(subject), b"x" * 60, "1", seen
    )
    assert moved == 0 and not await redis.exists(during.entry(subject))


@pytest.fixture
def audited(
    stack: CommonSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Storage, dict[str, str]]]:
    """A database of its own for the audit chain, and the CLI's environment for it."""
    # The CLI's consoles took their width when first imported: wide enough for whole lines.
    monkeypatch.setattr(cli_keystore, "console", Console(width=250))
    monkeypatch.setattr(cli_keystore, "errors", Console(width=250, stderr=True))
    run = secrets.token_hex(4)
    database = f"cs_rotate_{run}"
    url = f"{stack.clickhouse_url.rsplit('/', 1)[0]}/{database}"
    topics = Topics(f"rotate{run}.")
    ensure_topics(stack.kafka_bootstrap, plan(topics, 1, 24))
    storage = open_storage(url)
    storage.migrate()
    env = {
        "CONSENTSTREAM_ENVIRONMENT": "test",
        "CONSENTSTREAM_STACK_DIR": str(tmp_path / "no-stack"),  # no local stack keys mixed in
        "CONSENTSTREAM_CLICKHOUSE_URL": url,
        "CONSENTSTREAM_REDIS_URL": stack.redis_url,
        "CONSENTSTREAM_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "CONSENTSTREAM_TOPIC_PREFIX": topics.prefix,
        "CONSENTSTREAM_KEYSTORE_URL": stack.redis_url,
    }
    try:
        yield storage, env
    finally:
        storage.command(sql.statement(sql.DROP_DATABASE, database))
        storage.close()


def rotate_master(env: dict[str, str | None], *args: str) -> Result:
    """``consentstream keys rotate-master ARGS`` with ``env`` (None: unset)."""
    return CliRunner().invoke(cli.app, ["keys", "rotate-master", *args], env=env)


async def made_keys(url: str, master_key: str, n: int) -> dict[str, bytes]:
    async with Redis.from_url(url) as client:
        store = KeyStore(client, master_key)
        return {s: await store.get_or_create(s) for s in subjects(n)}


async def read_keys(url: str, master_key: str, names: list[str]) -> dict[str, bytes | None]:
    """The data keys as a store with only ``master_key`` reads them."""
    async with Redis.from_url(url) as client:
        return await KeyStore(client, master_key).get_many(names)


def test_the_command_rotates_reports_and_audits(
    stack: CommonSettings, audited: tuple[Storage, dict[str, str]]
) -> None:
    storage, base = audited
    old, new = master(), master()
    keys = asyncio.run(made_keys(stack.redis_url, old, 5))
    env: dict[str, str | None] = {
        **base,
        "CONSENTSTREAM_MASTER_KEY": new,
        "CONSENTSTREAM_PREVIOUS_MASTER_KEY": old,
    }

    counted = rotate_master(env, "--dry-run")
    assert counted.exit_code == 0 and "5 data keys under" in counted.output, counted.output
    unmoved = asyncio.run(read_keys(stack.redis_url, old, list(keys)))
    assert unmoved == keys, "a dry run moves nothing"
    done = rotate_master(env)
    assert done.exit_code == 0, done.output
    assert "moved 5;" in done.output and "0 left under the previous key" in done.output
    assert asyncio.run(read_keys(stack.redis_url, new, list(keys))) == keys
    assert set(asyncio.run(read_keys(stack.redis_url, old, list(keys))).values()) == {None}

    entries = [e for e in Repository(storage).audit_entries() if e.action.startswith("keystore")]
    assert [e.action for e in entries] == ["keystore.rotate", "keystore.rotated"]
    assert '"moved":5' in entries[1].detail and '"completed":true' in entries[1].detail
    assert all(e.actor.startswith("cli:") for e in entries)
    assert old not in "".join(e.detail for e in entries), "fingerprints only, never a key"

    refused = rotate_master({**env, "CONSENTSTREAM_PREVIOUS_MASTER_KEY": None})
    assert refused.exit_code == 2 and "PREVIOUS_MASTER_KEY" in refused.output
