"""Takes that keep filling while the agent stores the previous one.

Faust's ``Stream.take`` stops adding to its buffer while the agent works on a take, and then
waits up to ``within`` again before it hands out the next one, whatever is waiting by then. A
worker that is catching up on a backlog therefore spends a ``within`` of every take consuming
and nothing else, and the last insert of each take's ClickHouse wait, with nothing to overlap
them: a third of its time on the processor benchmark.

:func:`steady_takes` keeps consuming into the next take while the agent stores the current one,
and hands it out as soon as the agent asks, when at least ``within`` has passed since the
previous take was handed out (or it is full). Under a backlog the agent never waits; under a
light load takes come every ``within``, as before. What does not change: a take holds at most
``max_`` values, and its events are acknowledged only once the agent asks for the next take,
that is, after the take was stored; never when the agent stops or fails in the middle of one,
so that a crash re-reads what it had not stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
from faust.types import ChannelT, EventT
from mode.utils.locks import Event


async def steady_takes(
    stream: faust.StreamT[Any], max_: int, within: float
) -> AsyncIterator[list[Any]]:
    """Lists of at most ``max_`` values, one at most every ``within`` seconds unless full.

    Built on the same parts of :class:`faust.Stream` as its ``take`` (a processor that fills
    the buffer, the stream drained passively in the background, acknowledgements by hand).
    """
    stream = cast("faust.Stream[Any]", stream)  # what an agent is given: a Service too
    filler = _Filler(stream, max_)
    loop = asyncio.get_running_loop()
    enable_acks = stream.enable_acks
    stream.enable_acks = False  # acknowledged below, once a take was stored
    stream.add_processor(filler.add)
    stream._enable_passive(cast(ChannelT[Any], aiter(stream.channel)))  # as its take does
    last = loop.time()
    try:
        while not stream.should_stop:
            remaining = within - (loop.time() - last)
            if remaining > 0 and not filler.full.is_set():
                await stream.wait_for_stopped(filler.full, timeout=remaining)
            last = loop.time()
            values, events = filler.drain()
            if not values:
                continue
            yield values
            # Reached only when the agent asks for the next take: this one is stored. A take
            # abandoned by an error or a stop is closed at the yield and never acknowledged.
            for event in events:
                await stream.ack(event)
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(filler.add)


class _Filler:
    """The buffer the stream's processor fills, and the events its values came with."""

    def __init__(self, stream: faust.Stream[Any], max_: int) -> None:
        self.stream = stream
        self.max = max_
        self.values: list[Any] = []
        self.events: list[EventT[Any]] = []
        self.full = Event()
        self.room = Event()
        self.room.set()

    async def add(self, value: Any) -> Any:
        """Faust processor: buffer one value; hold the stream while the buffer is full."""
        while len(self.values) >= self.max:
            if (await self.stream.wait(self.room)).stopped:
                return value  # stopping: a value not buffered is not acknowledged either
        event = self.stream.current_event
        if event is None:  # a processor always runs for an event: Faust's take says the same
            raise RuntimeError("a take's value arrived without its event")
        self.values.append(value)
        self.events.append(event)
        if len(self.values) >= self.max:
            self.full.set()
            self.room.clear()
        return value

    def drain(self) -> tuple[list[Any], list[EventT[Any]]]:
        """Everything buffered, and room for the next take."""
        values, events = self.values, self.events
        self.values, self.events = [], []
        self.full.clear()
        self.room.set()
        return values, events
