"""Several processes of one deployable: every event stored once, every request counted.

``python -m streams`` with ``WORKER_PROCESSES=2`` runs two consumers of one group under a
supervisor; ``python -m services.collector`` with ``COLLECTOR_PROCESSES=2`` runs two servers
on one port. Each child counts into the shared multiprocess metrics directory (named here,
so the test can read each process's own counts), and /metrics answers the sum.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka.admin import KafkaAdminClient
from prometheus_client.mmap_dict import MmapedDict

from tests.e2e.processes import free_port
from tests.integration.test_collector import event, running_collector
from tests.integration.test_worker import decision, isolated_run, raw_event

pytestmark = pytest.mark.integration


def per_process(directory: Path, sample: str) -> dict[int, float]:
    """The value of counter ``sample`` in each process's own metrics file, by pid."""
    found: dict[int, float] = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        values = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        for key, value, _, _ in values:
            if json.loads(key)[1] == sample:
                found[pid] = found.get(pid, 0.0) + value
    return found


def scraped(url: str, sample: str) -> float:
    """A sample's value on a /metrics page (0 when absent)."""
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line.startswith((f"{sample} ", f"{sample}{{")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def group_members(bootstrap: str, group: str) -> int:
    """Members of a consumer group that is stable (0 while it rebalances)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        described = admin.describe_groups([group])[group]
    finally:
        admin.close()
    return len(described["members"]) if described["group_state"] == "Stable" else 0


def test_two_worker_processes_store_every_event_exactly_once(
    stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics_dir = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    port = free_port()
    with isolated_run(stack, tmp_path, partitions=4) as run:
        run.start(
            "pair", CONSENTSTREAM_WORKER_PROCESSES="2", CONSENTSTREAM_WORKER_METRICS_PORT=str(port)
        )
        group = run.settings.worker_app_id
        run.wait(lambda: group_members(run.settings.kafka_bootstrap, group) == 2, "2 consumers")
        visitors = [f"vp-{uuid.uuid4().hex[:12]}" for _ in range(24)]
        for visitor in visitors:
            run.send_consent(decision(visitor, datetime.now(UTC) - timedelta(minutes=1)))
        events = [raw_event(visitors[n % len(visitors)], n) for n in range(240)]
        events += [raw_event(None, n) for n in range(60)]
        run.send_events(events, per_request=10)
        counts = run.wait(
            lambda: (c := run.counts())["final"] >= len(events) and c, "every event stored"
        )
        assert counts == {"stored": 300, "distinct": 300, "final": 300}
        sent = {e.event.event_id for e in events}
        assert {row["event_id"] for row in run.rows()} == sent
        metrics = f"http://127.0.0.1:{port}/metrics"
        assert scraped(metrics, "consentstream_worker_events_stored_total") == 300
        taken = per_process(metrics_dir, "consentstream_worker_messages_taken_total")
        assert len([pid for pid, n in taken.items() if n > 0]) == 2, taken
        assert sum(taken.values()) == scraped(metrics, "consentstream_worker_messages_taken_total")


def test_two_collector_processes_both_serve_and_metrics_sum_them(
    stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics_dir = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    with running_collector(
        tmp_path, stack, collector_processes="2", rate_limit_per_second="0"
    ) as collector:
        # A new connection per request: the kernel spreads connections over the two sockets.
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=collector.url, limits=fresh, timeout=10) as client:
            statuses = [client.post("/v1/events", json=event()).status_code for _ in range(60)]
        assert statuses == [202] * 60
        accepted = per_process(metrics_dir, "collector_events_accepted_total")
        assert len([pid for pid, n in accepted.items() if n > 0]) == 2, accepted
        deadline = time.monotonic() + 5
        while scraped(f"{collector.url}/metrics", "collector_events_accepted_total") < 60:
            assert time.monotonic() < deadline, "metrics do not sum the processes"
            time.sleep(0.2)
        assert sum(accepted.values()) == 60
