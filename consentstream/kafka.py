"""The Kafka producer of the collector and the API: acks=all, idempotent, honest about failure.

``send_all`` returns only when Kafka acknowledged every message; any failure or timeout
raises :class:`BrokerUnavailable`, which each app turns into 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """Kafka did not acknowledge in time: nothing sent in that call may be considered stored."""


async def _produce(
    producer: AIOKafkaProducer, topic: str, messages: Sequence[tuple[bytes, bytes]]
) -> None:
    # The delivery futures are awaited in place, not gathered: ``gather`` (and ``wait_for``
    # around it) cost a task, callbacks and a timer per request, ~10% of the collector's CPU
    # for a request that is most often one message. The first failure raises, as with gather.
    futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
    try:
        for future in futures:
            await future
    except BaseException:
        for future in futures:  # a later failure is this one's consequence: no "never retrieved"
            future.add_done_callback(_retrieve)
        raise


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()


class EventProducer:
    """Starts lazily, so the collector comes up (and says it is not ready) while Kafka is down."""

    def __init__(self, bootstrap: str, timeout: float) -> None:
        self._bootstrap = bootstrap
        self._timeout = timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=2,
                    # A partition's messages wait while its batch is in flight (aiokafka
                    # sends one at a time per partition). At the default 16 KiB a 50-event
                    # message fills a batch alone, so every request queued behind a round trip
                    # and cost a produce request; 512 KiB carries the requests of that wait
                    # together, under the broker's 1 MiB a batch (a larger message goes alone).
                    max_batch_size=512 * 1024,
                    request_timeout_ms=int(self._timeout * 1000),
                )
                try:
                    await asyncio.wait_for(producer.start(), self._timeout)
                except (KafkaError, OSError, TimeoutError) as exc:
                    await producer.stop()
                    raise BrokerUnavailable("Kafka is unavailable") from exc
                self._producer = producer
        return self._producer

    async def send_all(self, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Produce ``(key, value)`` pairs and wait until every one is acknowledged."""
        producer = await self._started()
        try:
            async with asyncio.timeout(self._timeout):  # one timer, no extra task
                await _produce(producer, topic, messages)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("kafka produce failed: %s", type(exc).__name__)
            if isinstance(exc, KafkaError) and not exc.retriable:
                await self._discard(producer)
            raise BrokerUnavailable("Kafka did not acknowledge the events") from exc

    async def _discard(self, producer: AIOKafkaProducer) -> None:
        """Drop a producer in a fatal state so the next request starts a fresh one.

        After a broker restart an idempotent producer can be stuck on a sequence error
        (``OutOfOrderSequenceNumber``) forever; a new producer id gets past it. The client's
        retry of the failed batch may then reach Kafka twice: the sink's dedupe absorbs that.
        """
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        try:
            await producer.stop()
        except (KafkaError, OSError) as exc:
            log.warning("stopping a failed producer: %s", type(exc).__name__)

    async def ready(self) -> bool:
        """True when the producer is connected."""
        try:
            await self._started()
        except BrokerUnavailable:
            return False
        return True

    async def close(self) -> None:
        """Flush and stop."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
