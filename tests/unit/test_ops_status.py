"""``consentstream status`` lists the stack and the three apps; the apps come from settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops import apps, cli, stack
from ops.stack.base import ServiceStatus, State

LOG = Path("/nonexistent/logs/x.log")


def test_apps_answer_where_their_settings_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSENTSTREAM_COLLECTOR_PORT", "18080")
    monkeypatch.setenv("CONSENTSTREAM_API_PORT", "18081")
    monkeypatch.setenv("CONSENTSTREAM_WORKER_METRICS_PORT", "0")
    found = {app.name: app for app in apps.apps()}
    assert [app.name for app in apps.apps()] == ["worker", "collector", "api"]
    assert found["collector"].address.endswith(":18080")
    assert found["collector"].health_url == f"http://{found['collector'].address}/healthz"
    assert found["api"].health_url == f"http://{found['api'].address}/healthz"
    assert found["worker"].address == "" and found["worker"].health_url is None


def fake_status(monkeypatch: pytest.MonkeyPatch, infra: State, product: dict[str, State]) -> None:
    services = [ServiceStatus(n, infra, 10, f"127.0.0.1:{i}", LOG) for i, n in enumerate("abc")]
    products = [
        ServiceStatus(name, state, 4242 if state != "stopped" else None, "127.0.0.1:8080", LOG)
        for name, state in product.items()
    ]
    monkeypatch.setattr(stack, "status", lambda cluster=False: services)
    monkeypatch.setattr(apps, "app_status", lambda: products)


def run_status() -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, ["status"], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_status_shows_each_app_with_pid_address_and_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_status(monkeypatch, "running", {"worker": "running", "collector": "stopped"})
    code, out = run_status()
    assert code == 0, out
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    assert "running" in rows["worker"] and "4242" in rows["worker"]
    assert "stopped" in rows["collector"] and "127.0.0.1:8080" in rows["collector"]


def test_status_fails_for_an_app_that_runs_but_does_not_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_status(monkeypatch, "running", {"api": "unhealthy"})
    assert run_status()[0] == 1


def test_status_fails_when_the_stack_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_status(monkeypatch, "stopped", {"api": "stopped"})
    assert run_status()[0] == 1
