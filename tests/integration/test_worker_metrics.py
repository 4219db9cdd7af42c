"""The worker's /metrics listens where the settings say, loopback unless told otherwise."""

from __future__ import annotations

import httpx
import pytest

from streams.config import WorkerSettings
from streams.metrics import WorkerMetrics
from tests.e2e.processes import free_port

pytestmark = pytest.mark.integration


def test_metrics_listen_on_loopback_by_default() -> None:
    settings = WorkerSettings(worker_metrics_port=free_port())
    assert settings.worker_metrics_host == "127.0.0.1"
    bound = WorkerMetrics().serve(settings.worker_metrics_port, settings.worker_metrics_host)
    assert bound == ("127.0.0.1", settings.worker_metrics_port)
    answer = httpx.get(f"http://127.0.0.1:{settings.worker_metrics_port}/metrics", timeout=5)
    assert "consentstream_worker_events_stored_total" in answer.text


def test_the_interface_is_configurable() -> None:
    settings = WorkerSettings.model_validate({"worker_metrics_host": "0.0.0.0"})
    assert settings.worker_metrics_host == "0.0.0.0"
    port = free_port()
    assert WorkerMetrics().serve(port, "127.0.0.2") == ("127.0.0.2", port)


def test_port_zero_serves_nothing() -> None:
    assert WorkerMetrics().serve(0) is None
