"""A script call on a single Redis without redis-py's per-command machinery, for the hot route.

Every request of the collector runs one script (the dedupe claim). Through redis-py's client a
call takes a connection from the pool (a lock, observability counters, a readability probe of
the socket), wraps the command in its retry loop and records its duration; measured on
loopback, that cost as much CPU again as sending and reading the command. :func:`evalsha`
sends ``EVALSHA`` and reads its reply on a connection it keeps between calls, and hands every
case it does not own back to redis-py's own path:

- a server without the script (``NOSCRIPT``: restarted, or flushed) gets it loaded by the
  script object, as redis-py does;
- a connection or timeout error is retried on redis-py's path, with its retry policy (the one
  failed attempt here comes before that policy's attempts);
- a Redis Cluster client is never given here (its calls are routed per slot).

A connection goes back to the kept list only after a whole reply was read (a server error
reply is whole too), so the next call never reads an earlier call's reply. On any other
failure redis-py's reader has already closed it, and it goes back to the pool, which connects
it anew when it is next taken. The client's ``aclose`` closes the kept ones with the rest
(the pool counts them as in use).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = int | bytes | str

# Connections kept between calls, by client: a test or a process may hold several clients.
_kept: weakref.WeakKeyDictionary[Redis, list[AbstractConnection]] = weakref.WeakKeyDictionary()


async def evalsha(
    redis: Redis, script: AsyncScript, keys: Sequence[str | bytes], args: Sequence[Arg]
) -> Any:
    """``script(keys=keys, args=args, client=redis)``, at a fraction of the client's CPU."""
    kept = _kept.get(redis)
    if kept is None:
        kept = _kept[redis] = []
    connection = await _take(redis, kept)
    try:
        await _send(
            connection, connection.pack_command("EVALSHA", script.sha, len(keys), *keys, *args)
        )
        reply = await connection.read_response()
    except ResponseError as exc:
        kept.append(connection)  # a whole reply was read: the connection is clean
        if not isinstance(exc, NoScriptError):
            raise
        return await script(keys=keys, args=args, client=redis)
    except (RedisConnectionError, RedisTimeoutError):
        await redis.connection_pool.release(connection)
        return await script(keys=keys, args=args, client=redis)
    except BaseException:
        await redis.connection_pool.release(connection)
        raise
    kept.append(connection)
    return reply


async def _send(connection: AbstractConnection, packed: list[bytes]) -> None:
    """``connection.send_packed_command(packed)`` without its task per call.

    redis-py bounds the write with ``asyncio.wait_for``, which makes a task and a timer for
    every command. A write only waits when the kernel did not take the command (the stream is
    paused): only then is it bounded here, by the same socket timeout. The errors are redis-py's:
    the connection is closed and a timeout or connection error raised.
    """
    writer = getattr(connection, "_writer", None)
    if writer is None or connection.health_check_interval:  # not connected, or pings due
        await connection.send_packed_command(packed)
        return
    try:
        writer.writelines(packed)
        if writer.transport.get_write_buffer_size():
            async with asyncio.timeout(connection.socket_timeout):
                await writer.drain()
        else:
            await writer.drain()  # does not wait: raises only when the connection was lost
    except TimeoutError:
        await connection.disconnect(nowait=True)
        raise RedisTimeoutError("Timeout writing to socket") from None
    except OSError as exc:
        await connection.disconnect(nowait=True)
        raise RedisConnectionError(f"Error while writing to socket: {exc}") from exc
    except BaseException:
        await connection.disconnect(nowait=True)  # part of a command may have gone: unusable
        raise


async def _take(redis: Redis, kept: list[AbstractConnection]) -> AbstractConnection:
    """A kept connection still open, else one from the pool (connected and checked by it)."""
    pool = redis.connection_pool
    while kept:
        connection = kept.pop()
        # A server's maintenance notice asks for a new connection (redis-py 6 and later).
        should_reconnect = getattr(connection, "should_reconnect", None)
        if connection.is_connected and not (should_reconnect and should_reconnect()):
            return connection
        await pool.release(connection)  # closed meanwhile: the pool reconnects it when taken
    taken: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
    return taken
