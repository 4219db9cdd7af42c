"""FastAPI dependencies of the collector, as ``Annotated`` aliases tests can override."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from consentstream.kafka import EventProducer
from consentstream.topics import Topics
from schemas.event_time import TimeWindow

from .backpressure import InflightLimit
from .config import CollectorSettings
from .errors import TooManyRequests
from .facts import Network, client_ip
from .metrics import CollectorMetrics
from .ratelimit import RateLimiter
from .sealing import Sealer


@dataclass
class CollectorState:
    """Everything the lifespan opens, closed again on shutdown."""

    settings: CollectorSettings
    topics: Topics
    proxies: tuple[Network, ...]
    producer: EventProducer
    redis: Redis
    metrics: CollectorMetrics
    limiter: RateLimiter
    inflight: InflightLimit
    sealer: Sealer
    window: TimeWindow = field(init=False)
    """``settings.event_time_window``, built once: the property makes it anew on each read."""

    def __post_init__(self) -> None:
        self.window = self.settings.event_time_window


async def get_state(request: Request) -> CollectorState:
    """The state the lifespan stored on the app.

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in a worker
    thread, a thread hop on every request for one attribute read.
    """
    state: CollectorState = request.app.state.collector
    return state


State = Annotated[CollectorState, Depends(get_state)]


async def enforce_rate_limit(request: Request, state: State) -> None:
    """429 with ``Retry-After`` once the client's token bucket is empty."""
    if not state.limiter.enabled:  # no address to work out: it would only name a bucket
        return
    peer = request.client.host if request.client else ""
    ip = client_ip(peer, request.headers.get("x-forwarded-for"), state.proxies)
    wait = await state.limiter.retry_after(ip)
    if wait is not None:
        raise TooManyRequests(wait)


RateLimited = Depends(enforce_rate_limit)
