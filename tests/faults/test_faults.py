"""Faults under load: after each, stored events equal acknowledged events, once each.

Every scenario runs the load generator against the collector, injects one fault into a real
process or service, restores it, and then compares ClickHouse with what got a 202.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from consentstream.identity import pseudonymize
from consentstream.storage import open_storage
from ops import stack
from tests.e2e.processes import wait_http
from tests.figures import FIGURES

from .conftest import FaultRig
from .loadgen import LoadGenerator, visitors

pytestmark = [pytest.mark.integration, pytest.mark.faults]

VISITORS: list[str | None] = []  # the browsers of `consents`: minted ids, None when anonymous
# `make soak` sets FAULT_SCALE to run each scenario longer and harder than `make test` does.
SCALE = float(os.environ.get("FAULT_SCALE", "1"))


@dataclass
class Figures:
    """What a scenario prints. ``outage``: the fault itself (stop, wait, restart);
    ``recovery``: from the restart until an event acknowledged after it was stored;
    ``drain``: from the end of the load until every acknowledged event was stored."""

    scenario: str
    sent: int
    acked: int
    stored: int
    missing: int
    duplicates: int
    retries: int
    outage_s: float
    recovery_s: float
    drain_s: float = 0.0
    consents: str = ""
    extra: str = ""

    def line(self) -> str:
        return (
            f"{self.scenario:<22} sent {self.sent:>6}  acked {self.acked:>6}"
            f"  stored {self.stored:>6}  missing {self.missing}  duplicates {self.duplicates}"
            f"  consents {self.consents:>7}"
            f"  retries {self.retries:>4}"
            f"  outage {self.outage_s:5.1f}s  recovery {self.recovery_s:5.1f}s"
            f"  drain {self.drain_s:5.1f}s" + (f"  {self.extra}" if self.extra else "")
        )


def report(request: pytest.FixtureRequest, figures: Figures) -> None:
    """Keep the scenario's figures for the run's summary (output during a test is captured).

    A user property travels with the test's report, so the summary has it also when the
    scenario ran on an xdist worker.
    """
    request.node.user_properties.append((FIGURES, figures.line()))


@pytest.fixture(scope="module", autouse=True)
def consents(rig: FaultRig) -> None:
    """Half the visitors accept analytics before any load starts."""
    VISITORS[:] = decide(rig, 12)


def decide(rig: FaultRig, count: int) -> list[str | None]:
    """``count`` browsers, every other one granting analytics (see :func:`loadgen.visitors`)."""
    return visitors(rig.pipe.collector_url, count)


def stored_ids(rig: FaultRig) -> tuple[set[str], int]:
    """Event ids visible to queries, and how many rows exceed one per event id."""
    with open_storage(rig.env["CONSENTSTREAM_CLICKHOUSE_URL"]) as storage:
        table = f"{rig.database}.usage_events"
        ids = storage.query(f"SELECT toString(event_id) AS id FROM {table} FINAL")
        dup = storage.query(f"SELECT count() - uniqExact(event_id) AS d FROM {table} FINAL")
    return {row["id"] for row in ids}, int(dup[0]["d"])


def recorded_consents(rig: FaultRig) -> set[str]:
    """consent_ids in the consent ledger."""
    with open_storage(rig.env["CONSENTSTREAM_CLICKHOUSE_URL"]) as storage:
        rows = storage.query(f"SELECT consent_id FROM {rig.database}.consent_ledger FINAL")
    return {row["consent_id"] for row in rows}


def wait_for_fresh_rows(rig: FaultRig, load: LoadGenerator, since: float, least: float) -> float:
    """Keep the load on for ``least`` s; when did an event acknowledged after ``since`` land?

    That moment ends the recovery: the whole path (collector, Kafka, worker, ClickHouse) is
    storing new events again. The load keeps running until it is seen (at most 120 s).
    """
    seen: float | None = None
    while time.monotonic() < since + least or (seen is None and time.monotonic() < since + 120):
        time.sleep(0.25)
        if seen is None:
            fresh = {e for e, at in load.stats.acked_at.copy().items() if at > since}
            if fresh & stored_ids(rig)[0]:
                seen = time.monotonic()
    assert seen is not None, "nothing acknowledged after the fault was stored within 120 s"
    return seen


def run_scenario(
    request: pytest.FixtureRequest, rig: FaultRig, name: str, fault: Callable[[], None]
) -> Figures:
    """Load, fault, restore, drain; then compare what is stored with what was acknowledged."""
    rig.pipe.check_alive()
    load = LoadGenerator(rig.pipe.collector_url, VISITORS, batch=10, rate=15 * SCALE).start()
    time.sleep(3 * SCALE)
    began = time.monotonic()
    fault()
    restored = time.monotonic()
    resumed = wait_for_fresh_rows(rig, load, restored, 4 * SCALE)
    stats = load.stop()
    stopped = time.monotonic()
    deadline = stopped + 180
    stored, duplicates = stored_ids(rig)
    ledger = recorded_consents(rig)
    while not (stats.acked <= stored and stats.consents <= ledger) and time.monotonic() < deadline:
        rig.pipe.check_alive()
        time.sleep(1)
        stored, duplicates = stored_ids(rig)
        ledger = recorded_consents(rig)
    caught_up = time.monotonic()
    figures = Figures(
        scenario=name,
        sent=stats.sent,
        acked=len(stats.acked),
        stored=len(stats.acked & stored),
        missing=len(stats.acked - stored),
        duplicates=duplicates,
        retries=stats.retries,
        outage_s=restored - began,
        recovery_s=resumed - restored,
        drain_s=caught_up - stopped,
        consents=f"{len(stats.consents & ledger)}/{len(stats.consents)}",
    )
    report(request, figures)
    assert figures.missing == 0, figures.line()
    assert figures.duplicates == 0, figures.line()
    assert figures.acked > 0
    assert stats.consents, "no consent decision was recorded under load: the test proves less"
    assert stats.consents <= ledger, f"consent decisions missing from the ledger: {figures.line()}"
    return figures


def test_worker_killed_mid_batch(request: pytest.FixtureRequest, rig: FaultRig) -> None:
    def fault() -> None:
        rig.pipe.stop("worker", sig=signal.SIGKILL)
        time.sleep(2)
        rig.pipe.start("worker", "streams", rig.pipe.log_dir)

    run_scenario(request, rig, "worker kill -9", fault)


def test_collector_restarted(request: pytest.FixtureRequest, rig: FaultRig) -> None:
    def fault() -> None:
        rig.pipe.stop("collector")
        proc = rig.pipe.start("collector", "services.collector", rig.pipe.log_dir)
        wait_http(f"{rig.pipe.collector_url}/healthz", proc)

    run_scenario(request, rig, "collector restart", fault)


@pytest.mark.parametrize(
    ("service", "down_seconds"), [("redis", 3), ("kafka", 3), ("clickhouse", 30)]
)
def test_service_stopped_and_restarted(
    request: pytest.FixtureRequest, rig: FaultRig, service: str, down_seconds: int
) -> None:
    def fault() -> None:
        stack.stop(service, rig.stack)
        time.sleep(down_seconds)
        stack.start(service, rig.stack)

    run_scenario(request, rig, f"{service} down {down_seconds} s", fault)


def test_deletion_while_the_subjects_events_stream_in(
    request: pytest.FixtureRequest, rig: FaultRig
) -> None:
    """Erase a visitor mid-stream: afterwards zero rows anywhere, and none arrive later.

    The subject's browser keeps sending with its (now dead) cookie: the collector clears it and
    takes those events as anonymous; none ever lands under the subject's pseudonym.
    """
    subject = VISITORS[0]  # accepted analytics in `consents`
    assert subject is not None
    key = rig.pipe.cli("keys", "create", "--role", "privacy")
    headers = {"Authorization": f"Bearer {key}"}
    load = LoadGenerator(rig.pipe.collector_url, VISITORS, batch=10, rate=15 * SCALE).start()
    time.sleep(3 * SCALE)
    filed = httpx.post(
        f"{rig.pipe.api_url}/v1/privacy/requests",
        json={"type": "deletion", "subject": {"visitor_id": subject}},
        headers=headers,
        timeout=10,
    )
    assert filed.status_code == 202, filed.text
    url = f"{rig.pipe.api_url}/v1/privacy/requests/{filed.json()['request_id']}"
    deadline = time.monotonic() + 120
    status = ""
    while status != "done" and time.monotonic() < deadline:
        rig.pipe.check_alive()
        time.sleep(0.5)
        status = httpx.get(url, headers=headers, timeout=10).json()["status"]
    assert status == "done"
    time.sleep(4 * SCALE)  # the subject keeps browsing; those events must never land
    stats = load.stop()
    others = stats.acked - stats.acked_for(subject)
    deadline = time.monotonic() + 120
    stored, duplicates = stored_ids(rig)
    while not others <= stored and time.monotonic() < deadline:
        time.sleep(1)
        stored, duplicates = stored_ids(rig)
    time.sleep(3)  # let anything of the subject still in flight reach the sink
    stored, duplicates = stored_ids(rig)
    subject_key = {"k": pseudonymize(subject, rig.env["CONSENTSTREAM_PSEUDONYM_KEY"])}
    with open_storage(rig.env["CONSENTSTREAM_CLICKHOUSE_URL"]) as storage:
        ledger = storage.query(
            f"SELECT count() AS n FROM {rig.database}.consent_ledger FINAL"
            " WHERE visitor_key = %(k)s",
            subject_key,
        )
        keyed = storage.query(
            f"SELECT count() AS n FROM {rig.database}.usage_events FINAL WHERE visitor_key = %(k)s",
            subject_key,
        )
    report(
        request,
        Figures(
            scenario="deletion under fire",
            sent=stats.sent,
            acked=len(stats.acked),
            stored=len(stats.acked & stored),
            missing=len(others - stored),
            duplicates=duplicates,
            retries=stats.retries,
            outage_s=0.0,
            recovery_s=0.0,
        ),
    )
    assert stats.acked_for(subject), "the subject sent nothing: the test proves nothing"
    assert keyed[0]["n"] == 0, f"{keyed[0]['n']} events landed under the erased subject"
    assert ledger[0]["n"] == 0
    assert others <= stored and duplicates == 0
