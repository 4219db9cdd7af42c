"""The claim's script call below redis-py's command path answers as redis-py's path does.

On the shared single Redis: each script here is unique to the run (a fresh text, so a fresh
SHA no server has loaded), each key fresh, and only this test's own connections are closed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from consentstream.settings import CommonSettings
from services.collector import lean_redis

pytestmark = pytest.mark.integration


@pytest.fixture(name="redis")
async def redis_fixture(common_settings: CommonSettings) -> AsyncIterator[Redis]:
    client = Redis.from_url(common_settings.redis_url, socket_timeout=2.0)
    yield client
    await client.aclose()


def _script(redis: Redis, body: str) -> AsyncScript:
    """A script with a text of its own: the server has never seen its SHA."""
    return redis.register_script(f"-- {uuid.uuid4()}\n{body}")


async def _script_connections(redis: Redis, name: str) -> set[str]:
    """The server's ids of the connections named ``name`` (this test's own, none of others')
    whose last command was a script call."""
    listed = await redis.client_list()
    return {c["id"] for c in listed if c.get("name") == name and c.get("cmd") == "evalsha"}


async def test_a_script_the_server_lacks_is_loaded_and_its_answer_returned(redis: Redis) -> None:
    key = f"test-lean:{uuid.uuid4()}"
    script = _script(redis, "redis.call('SET', KEYS[1], ARGV[1], 'EX', 60) return ARGV[1]")
    assert await lean_redis.evalsha(redis, script, [key], ["one"]) == b"one"  # NOSCRIPT first
    assert await lean_redis.evalsha(redis, script, [key], [2]) == b"2"  # loaded now
    assert await redis.get(key) == b"2"
    await redis.delete(key)


async def test_a_script_error_is_raised_and_the_next_call_is_answered(redis: Redis) -> None:
    failing = _script(redis, "return redis.error_reply('refused here')")
    await redis.script_load(failing.script)
    with pytest.raises(ResponseError, match="refused here"):
        await lean_redis.evalsha(redis, failing, [], [])
    echo = _script(redis, "return ARGV[1]")
    assert await lean_redis.evalsha(redis, echo, [], ["after"]) == b"after"


async def test_a_connection_the_server_closed_is_replaced_unseen(
    common_settings: CommonSettings,
) -> None:
    """Redis restarted, or dropped an idle client: the call is answered on a new connection."""
    name = f"test-lean-{uuid.uuid4().hex[:12]}"
    redis = Redis.from_url(common_settings.redis_url, client_name=name, socket_timeout=2.0)
    try:
        echo = _script(redis, "return ARGV[1]")
        assert await lean_redis.evalsha(redis, echo, [], ["kept"]) == b"kept"
        (kept,) = await _script_connections(redis, name)
        await redis.client_kill_filter(_id=kept)
        assert await lean_redis.evalsha(redis, echo, [], ["again"]) == b"again"
        assert await lean_redis.evalsha(redis, echo, [], ["and on"]) == b"and on"
        assert kept not in {c["id"] for c in await redis.client_list()}
    finally:
        await redis.aclose()


async def test_a_call_cancelled_while_waiting_leaves_no_reply_for_the_next(redis: Redis) -> None:
    """A reply still on its way when the request is cancelled is never read as the next's."""
    slow = _script(redis, "return 'late'")
    await redis.script_load(slow.script)
    call = asyncio.ensure_future(lean_redis.evalsha(redis, slow, [], []))
    await asyncio.sleep(0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    echo = _script(redis, "return ARGV[1]")
    assert await lean_redis.evalsha(redis, echo, [], ["mine"]) == b"mine"
