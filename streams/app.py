"""The worker's Faust app: its configuration, and the clients it closes once its agents stop.

The app object is the one module-level-free exception to "no clients at import time": it is
built by :func:`create_app` from settings, like the services' ``create_app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import faust
from faust.types import TransportT

from .config import WorkerSettings
from .fetching import FETCH_MAX_BYTES, Transport

Closer = Callable[[], Awaitable[None]]


class WorkerApp(faust.App):
    """A Faust app that runs its closers after its agents stopped (so none is mid-call)."""

    closers: list[Closer]

    def _new_transport(self) -> TransportT:
        """Faust's aiokafka transport, with a shorter long poll (``streams.fetching``)."""
        return Transport(self.conf.broker_consumer, self)

    async def on_shutdown(self) -> None:
        """Close the clients the agents shared, in the order they were registered."""
        await super().on_shutdown()
        for close in getattr(self, "closers", []):
            await close()


def create_app(settings: WorkerSettings) -> WorkerApp:
    """The Faust app of one worker of the consumer group ``worker_app_id``."""
    s = settings
    app = WorkerApp(
        s.worker_app_id,
        broker=[f"kafka://{b.strip()}" for b in s.kafka_bootstrap.split(",")],
        store="memory://",
        datadir=s.worker_data_dir,
        web_enabled=False,
        topic_partitions=s.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        # Faust waits 60 s by default before a killed worker's partitions move on.
        broker_session_timeout=s.worker_session_timeout,
        broker_rebalance_timeout=s.worker_session_timeout,
        broker_heartbeat_interval=min(3.0, s.worker_session_timeout / 3),
        stream_buffer_maxsize=max(4096, s.sink_batch_size * 2),
        consumer_max_fetch_size=FETCH_MAX_BYTES,
    )
    app.closers = []
    return app
