"""``start-apps``, ``stop-apps`` and ``status`` on real processes, in a stack folder of their own.

The three real apps need the whole pipeline; what is under test here is the process manager
(launch detached, wait for health, report, refuse to start twice, stop, see a crash), so it
runs small stand-in apps: one that answers ``/healthz`` on a free port like the collector and
API, and one that only lives like the worker. Nothing touches the shared ports or ``.stack``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops import apps
from ops.stack.base import StackError
from ops.stack.config import StackSettings
from tests.e2e.processes import free_port

pytestmark = pytest.mark.integration

HTTP_APP = textwrap.dedent(
    """
    import os
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", int(os.environ["STANDIN_PORT"])), Health).serve_forever()
    """
)
QUIET_APP = "import time\nwhile True:\n    time.sleep(1)\n"
CRASHING_APP = "raise SystemExit('standin: no configuration')\n"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackSettings]:
    """A stack folder of its own, stand-in app modules importable from the working directory."""
    port = free_port()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STANDIN_PORT", str(port))
    (tmp_path / "standin_http.py").write_text(HTTP_APP)
    (tmp_path / "standin_quiet.py").write_text(QUIET_APP)
    (tmp_path / "standin_crash.py").write_text(CRASHING_APP)
    stand_ins = (
        apps.App("quiet", "standin_quiet", None),
        apps.App("web", "standin_http", f"http://127.0.0.1:{port}/healthz", f"127.0.0.1:{port}"),
    )
    monkeypatch.setattr(apps, "apps", lambda: stand_ins)
    current = StackSettings(stack_dir=tmp_path / "stack", stop_timeout_s=5)
    yield current
    apps.stop_apps(current)


def states(settings: StackSettings) -> dict[str, tuple[str, int | None, str]]:
    return {s.name: (s.state, s.pid, s.address) for s in apps.app_status(settings)}


def test_status_before_start_says_stopped(settings: StackSettings) -> None:
    found = states(settings)
    assert {name: state for name, (state, _, _) in found.items()} == {
        "quiet": "stopped",
        "web": "stopped",
    }
    assert found["web"][2].startswith("127.0.0.1:")


def test_start_waits_for_health_then_status_shows_pid_and_address(
    settings: StackSettings,
) -> None:
    report = {name: (pid, detail) for name, pid, detail in apps.start_apps(settings)}
    assert set(report) == {"quiet", "web"}
    assert all(detail.startswith("started") for _, detail in report.values())
    found = states(settings)
    assert found["quiet"][:2] == ("running", report["quiet"][0])
    assert found["web"][:2] == ("running", report["web"][0])
    assert (settings.run_dir / "web.pid").read_text().strip() == str(report["web"][0])


def test_start_again_keeps_the_running_processes(settings: StackSettings) -> None:
    first = {name: pid for name, pid, _ in apps.start_apps(settings)}
    again = apps.start_apps(settings)
    assert {name: pid for name, pid, _ in again} == first
    assert {detail for _, _, detail in again} == {"already running"}


def test_stop_ends_them_and_status_says_stopped(settings: StackSettings) -> None:
    apps.start_apps(settings)
    assert apps.stop_apps(settings) == ["web", "quiet"]
    assert {state for state, _, _ in states(settings).values()} == {"stopped"}
    assert not (settings.run_dir / "web.pid").exists()
    assert apps.stop_apps(settings) == []


def test_an_app_that_exits_at_start_is_reported_with_its_log(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashing = apps.App("crash", "standin_crash", "http://127.0.0.1:9/healthz")
    monkeypatch.setattr(apps, "apps", lambda: (crashing,))
    with pytest.raises(StackError, match="crash exited") as failed:
        apps.start_apps(settings)
    assert "standin: no configuration" in str(failed.value)
    assert states(settings)["crash"][0] == "stopped"


def test_a_running_app_that_does_not_answer_is_unhealthy(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps.start_apps(settings)
    silent = f"http://127.0.0.1:{free_port()}/healthz"
    monkeypatch.setattr(apps, "apps", lambda: (apps.App("quiet", "standin_quiet", silent),))
    (status,) = apps.app_status(settings)
    assert (status.state, status.detail) == ("unhealthy", f"{silent} not answering")
