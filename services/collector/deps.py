"""FastAPI dependencies of the collector, as ``Annotated`` aliases tests can override."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from consentstream.kafka import EventProducer
from consentstream.topics import Topics

from .config import CollectorSettings
from .facts import Network
from .metrics import CollectorMetrics


@dataclass
class CollectorState:
    """Everything the lifespan opens, closed again on shutdown."""

    settings: CollectorSettings
    topics: Topics
    proxies: tuple[Network, ...]
    producer: EventProducer
    redis: Redis
    metrics: CollectorMetrics


def get_state(request: Request) -> CollectorState:
    """The state the lifespan stored on the app."""
    state: CollectorState = request.app.state.collector
    return state


State = Annotated[CollectorState, Depends(get_state)]
