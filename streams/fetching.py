"""Faust's Kafka transport with a broker long poll that cannot hold up a worker catching up.

aiokafka keeps one fetch in flight per broker. When some partitions are drained and others
still hold records the agent has not taken yet, the fetch goes out for the drained ones alone
and the broker holds it until data arrives or ``fetch_max_wait_ms`` passes; the partitions
with more to read wait behind it. Faust fixes that wait at 1,500 ms and does not expose it:
a worker catching up stalled a second at a time at the end of every partition. Data that
arrives still ends the wait at once, so a shorter one costs only a few empty fetches a second.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver

FETCH_MAX_WAIT_MS = 100
# Per partition and fetch. Faust's 1 MiB holds one raw message of the largest (900 KiB) and ~40
# of a usual 50-event request: a worker catching up emptied each fetch before the next arrived.
FETCH_MAX_BYTES = 8 * 1024 * 1024


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by the consumer's fetcher, which it creates only when started.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    """The aiokafka transport whose worker consumers long-poll for ``FETCH_MAX_WAIT_MS``."""

    Consumer = _Consumer
