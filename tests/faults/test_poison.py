"""Poison mixed into normal load: no good event lost, every poison event accounted for, and
storing never pauses longer than one retry cycle (the worker never retries a bad row forever).

Runs on the fault suite's stack (``rig``), after or without the other scenarios.
"""

from __future__ import annotations

import threading
import time
import warnings

import httpx
import pytest

from consentstream.storage import open_storage
from consentstream.topics import Topics
from streams.retry import MAX_BACKOFF

from .conftest import FaultRig
from .loadgen import LoadGenerator
from .poison import Poison, cycle_collector, cycle_direct, dead_letters, produce
from .test_faults import (
    SCALE,
    Figures,
    decide,
    recorded_consents,
    report,
    stored_ids,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaProducer

pytestmark = [pytest.mark.integration, pytest.mark.faults]
# Visitors of their own: the rig is shared with the other fault scenarios, one of which erases
# a visitor of theirs, whose later events must (and do) never land under their id.
VISITORS: list[str | None] = []


@pytest.fixture(scope="module", autouse=True)
def consents(rig: FaultRig) -> None:
    """Half the visitors accept analytics before any load starts."""
    VISITORS[:] = decide(rig, 12)


POLL = 0.2
FLUSH = 0.25  # CONSENTSTREAM_SINK_FLUSH_SECONDS, the default
RETRY_CYCLE = MAX_BACKOFF + FLUSH + 2 * POLL
"""The longest pause in storing good events that one retry explains: the longest backoff, a
take's flush interval, and this test's polling on either side."""


class StoreWatch:
    """Polls ClickHouse for acknowledged good events and remembers when new ones landed."""

    def __init__(self, rig: FaultRig, load: LoadGenerator) -> None:
        self.rig = rig
        self.load = load
        self.landed: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> StoreWatch:
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop watching; the longest time between two moments good events landed."""
        self._stop.set()
        self._thread.join(30)
        gaps = [b - a for a, b in zip(self.landed, self.landed[1:], strict=False)]
        return max(gaps, default=0.0)

    def _run(self) -> None:
        table = f"{self.rig.database}.usage_events"
        query = f"SELECT toString(event_id) AS id FROM {table} WHERE received_at >= now() - 120"
        seen = 0
        with open_storage(self.rig.env["CONSENTSTREAM_CLICKHOUSE_URL"]) as storage:
            while not self._stop.is_set():
                asked = time.monotonic()
                stored = {row["id"] for row in storage.query(query)}
                count = len(self.load.stats.acked.copy() & stored)
                if count > seen:
                    seen = count
                    # Mid-query: a query slowed by a busy machine is not a pause in storing.
                    self.landed.append((asked + time.monotonic()) / 2)
                time.sleep(POLL)


def accounted(poison: Poison, stored: set[str], letters: str) -> bool:
    """Whether a poison message that reached the topic ended as its kind must."""
    if poison.marker:
        return poison.marker in letters
    parked = all(i in letters for i in poison.ids)
    kept = all(i in stored for i in poison.ids)
    if poison.fate == "dead_letter":
        return parked and not any(i in stored for i in poison.ids)
    if poison.fate == "stored":
        return kept
    return all(i in stored or i in letters for i in poison.ids)


def send_poison(rig: FaultRig, seconds: float) -> tuple[list[Poison], int]:
    """Poison into the collector and straight into the raw topic, alternately, for ``seconds``.

    Returns what reached the topic and how many collector requests were refused outright.
    """
    topic = Topics(rig.env["CONSENTSTREAM_TOPIC_PREFIX"]).raw_events
    producer = KafkaProducer(
        bootstrap_servers=rig.env["CONSENTSTREAM_KAFKA_BOOTSTRAP"].split(","), acks="all"
    )
    reached: list[Poison] = []
    refused = 0
    direct, via = cycle_direct(), cycle_collector()
    headers = {"content-type": "application/json", "X-Forwarded-For": "198.51.100.66"}
    deadline = time.monotonic() + seconds
    try:
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < deadline:
                poison, value = next(direct)
                produce(producer, topic, value)
                reached.append(poison)
                kind, fate, body, ids = next(via)
                answer = client.post(
                    f"{rig.pipe.collector_url}/v1/events", content=body, headers=headers
                )
                if answer.status_code != 202:
                    refused += 1
                else:
                    no = {r["index"] for r in answer.json()["rejected"]}
                    refused += len(no)
                    kept = [i for n, i in enumerate(ids) if n not in no]
                    if kept:
                        reached.append(Poison(f"collector: {kind}", fate, kept))
                time.sleep(0.1)
    finally:
        producer.close()
    return reached, refused


def test_poison_mixed_into_normal_load(request: pytest.FixtureRequest, rig: FaultRig) -> None:
    rig.pipe.check_alive()
    load = LoadGenerator(rig.pipe.collector_url, VISITORS, batch=10, rate=15 * SCALE).start()
    watch = StoreWatch(rig, load).start()
    time.sleep(2)
    reached, refused = send_poison(rig, 8 * SCALE)
    time.sleep(2)  # good load after the last poison: it must keep landing
    stats = load.stop()
    stopped = time.monotonic()
    longest_gap = watch.stop()
    letters_topic = Topics(rig.env["CONSENTSTREAM_TOPIC_PREFIX"]).dead_letters
    bootstrap = rig.env["CONSENTSTREAM_KAFKA_BOOTSTRAP"]
    deadline = stopped + 120
    while True:
        rig.pipe.check_alive()
        stored, duplicates = stored_ids(rig)
        letters = "\n".join(dead_letters(bootstrap, letters_topic, rig.env))
        unaccounted = [p for p in reached if not accounted(p, stored, letters)]
        ledger = recorded_consents(rig)
        done = stats.acked <= stored and stats.consents <= ledger and not unaccounted
        if done or time.monotonic() > deadline:
            break
        time.sleep(1)
    parked = sum(1 for p in reached if (p.marker or p.ids[0]) in letters)
    figures = Figures(
        scenario="poison mixed in",
        sent=stats.sent,
        acked=len(stats.acked),
        stored=len(stats.acked & stored),
        missing=len(stats.acked - stored),
        duplicates=duplicates,
        retries=stats.retries,
        outage_s=0.0,
        recovery_s=0.0,
        drain_s=time.monotonic() - stopped,
        consents=f"{len(stats.consents & ledger)}/{len(stats.consents)}",
        extra=(
            f"poison in topic {len(reached)}  parked {parked}  refused at the edge {refused}"
            f"  unaccounted {len(unaccounted)}  longest gap {longest_gap:4.1f}s"
        ),
    )
    report(request, figures)
    assert figures.missing == 0, figures.line()
    assert figures.duplicates == 0, figures.line()
    assert not unaccounted, [(p.kind, p.fate) for p in unaccounted[:10]]
    assert stats.consents <= ledger, f"consent decisions missing from the ledger: {figures.line()}"
    assert parked > 0 and reached
    assert longest_gap <= RETRY_CYCLE, figures.line()
