"""A worker asked to stop finishes its agents, then closes its Redis and storage clients."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.processes import free_port
from tests.integration.test_worker import _serving, isolated_run

pytestmark = pytest.mark.integration


def test_sigterm_stops_the_worker_cleanly_and_closes_its_clients(
    stack: Any, tmp_path: Path
) -> None:
    port = free_port()
    with isolated_run(stack, tmp_path, partitions=1, CONSENTSTREAM_LOG_LEVEL="INFO") as wr:
        wr.start("w", CONSENTSTREAM_WORKER_METRICS_PORT=str(port))
        wr.wait(lambda: _serving(port), "the worker's /metrics")
        log = wr.logs / "w.log"
        wr.wait(lambda: "Worker ready" in log.read_text(errors="replace"), "the worker ready")
        proc = wr.procs["w"]
        wr.stop("w", signal.SIGTERM)
        assert proc.returncode == 0, wr.log("w")
        assert "worker clients closed" in log.read_text(errors="replace")
