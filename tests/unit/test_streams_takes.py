"""Takes that fill while the agent works: handed out without idling, acknowledged once stored.

A real Faust agent over its in-memory test channel (``Agent.test_context``): what is under test
is how a take collects and acknowledges Faust's events, not Kafka.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import faust
from faust.types import EventT

from streams.takes import steady_takes

Body = Callable[[list[Any]], Awaitable[None]]


@asynccontextmanager
async def agent_over(body: Body, max_: int, within: float) -> AsyncIterator[Any]:
    """A running Faust agent that hands each of its takes to ``body``."""
    app = faust.App(f"takes-{secrets.token_hex(4)}", store="memory://", web_enabled=False)

    async def process(stream: faust.StreamT[Any]) -> AsyncIterator[None]:
        async for values in steady_takes(stream, max_, within):
            await body(values)
            yield None

    try:
        async with app.agent()(process).test_context() as running:
            yield running
    finally:
        # The test context never starts the app's Kafka consumer, whose thread made a loop.
        cast(Any, app.consumer)._thread.thread_loop.close()


async def put_all(agent: Any, values: range) -> list[EventT[Any]]:
    return [await agent.put(v, wait=False) for v in values]


async def eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_a_take_is_acknowledged_only_once_the_agent_asks_for_the_next() -> None:
    taken: list[list[Any]] = []
    got, release = asyncio.Event(), asyncio.Event()

    async def body(values: list[Any]) -> None:
        taken.append(values)
        got.set()
        await release.wait()

    async with agent_over(body, max_=8, within=0.05) as running:
        events = await put_all(running, range(5))
        await asyncio.wait_for(got.wait(), 5)
        await asyncio.sleep(0.2)  # the agent is storing: nothing may be acknowledged yet
        assert taken == [[0, 1, 2, 3, 4]]
        assert not any(e.message.acked for e in events)
        release.set()
        assert await eventually(lambda: all(e.message.acked for e in events))


async def test_a_take_abandoned_by_an_error_is_never_acknowledged() -> None:
    async def body(values: list[Any]) -> None:
        raise RuntimeError("storage refused")

    async with agent_over(body, max_=8, within=0.05) as running:
        events = await put_all(running, range(3))
        await asyncio.sleep(0.5)
        assert not any(e.message.acked for e in events)


async def test_under_a_backlog_the_next_take_is_ready_when_the_agent_asks() -> None:
    # Faust's own take would wait another `within` after the agent's work before it handed
    # out the rest of the backlog; this one collected it meanwhile.
    within, work = 1.0, 1.2
    handed: list[tuple[float, list[Any]]] = []

    async def body(values: list[Any]) -> None:
        handed.append((time.monotonic(), values))
        await asyncio.sleep(work)

    async with agent_over(body, max_=8, within=within) as running:
        await put_all(running, range(12))
        assert await eventually(lambda: len(handed) == 2)
    (first, first_values), (second, second_values) = handed
    assert first_values == list(range(8))  # full: handed out at once, never more than max_
    assert second_values == list(range(8, 12))
    assert second - first < work + within / 2


async def test_under_a_light_load_takes_come_at_most_every_within() -> None:
    within = 0.4
    handed: list[float] = []

    async def body(values: list[Any]) -> None:
        handed.append(time.monotonic())

    async with agent_over(body, max_=1000, within=within) as running:
        for v in range(30):
            await running.put(v, wait=False)
            await asyncio.sleep(0.05)
        await asyncio.sleep(within)
    gaps = [b - a for a, b in zip(handed, handed[1:], strict=False)]
    assert 2 <= len(handed) <= 6  # not one small take per value
    assert min(gaps) > within * 0.8
