"""The worker's Faust app: its configuration, and the clients it closes once its agents stop.

The app object is the one module-level-free exception to "no clients at import time": it is
built by :func:`create_app` from settings, like the services' ``create_app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import faust
from faust.types import TransportT

from .config import WorkerSettings
from .fetching import Transport

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
        # Per partition and fetch. Faust's 1 MiB holds one raw message of the largest (900 KiB)
        # and ~40 of a usual 50-event request: a worker catching up emptied each fetch before
        # the next arrived, and a fetch for partitions with nothing new waits up to 1.5 s on the
        # broker, holding up the others. The benchmark's raw consumer fetches as much.
        consumer_max_fetch_size=8 * 1024 * 1024,
    )
    app.closers = []
    return app
