"""The product's own processes for ``make run``: collector, stream worker and API in the background.

They run detached like the stack's servers (pid files in ``.stack/run``, logs in
``.stack/logs``), so a person can click through the demo site while they run.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from consentstream import processes
from ops.stack import secrets
from ops.stack.base import Launch, ServiceStatus, StackError, State
from ops.stack.config import StackSettings
from ops.stack.process import is_alive, launch, read_pid, tail, terminate
from services.api.config import ApiSettings
from services.collector.config import CollectorSettings
from streams.config import WorkerSettings


@dataclass(frozen=True)
class App:
    """One of our deployables, run as ``python -m <module>``."""

    name: str
    module: str
    health_url: str | None
    address: str = ""
    """host:port it answers on (the worker: its /metrics), empty when it listens nowhere."""
    processes: int = 1
    """How many processes it runs (``*_PROCESSES``: one per core unless set)."""


def apps() -> tuple[App, ...]:
    """The three deployables, with addresses, health URLs and process counts from settings."""
    collector = CollectorSettings()
    api = ApiSettings()
    worker = WorkerSettings()
    metrics = worker.worker_metrics_port
    api_address = f"{api.api_host}:{api.api_port}"
    return (
        App(
            "worker",
            "streams",
            None,
            f"127.0.0.1:{metrics}" if metrics else "",
            processes.count(worker.worker_processes),
        ),
        App(
            "collector",
            "services.collector",
            f"{collector_url(collector)}/healthz",
            f"{collector.collector_host}:{collector.collector_port}",
            processes.count(collector.collector_processes),
        ),
        App(
            "api",
            "services.api",
            f"http://{api_address}/healthz",
            api_address,
            processes.count(api.api_processes),
        ),
    )


def collector_url(settings: CollectorSettings) -> str:
    """Where the collector answers, for messages and health checks."""
    return f"http://{settings.collector_host}:{settings.collector_port}"


_PYTHON = (os.path.basename(os.path.realpath(sys.executable)),)


def _paths(app: App, settings: StackSettings) -> tuple[Path, Path]:
    return settings.logs_dir / f"{app.name}.log", settings.run_dir / f"{app.name}.pid"


def _running(app: App, settings: StackSettings) -> int | None:
    pid = read_pid(_paths(app, settings)[1])
    return pid if pid is not None and is_alive(pid, _PYTHON) else None


def _wait_healthy(app: App, pid: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while app.health_url and time.monotonic() < deadline:
        if not is_alive(pid, _PYTHON):
            raise StackError(f"{app.name} exited; last log lines ({log}):\n{tail(log)}")
        try:
            if httpx.get(app.health_url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    if app.health_url:
        raise StackError(f"{app.name} not healthy after {timeout:.0f}s; see {log}")


def start_apps(settings: StackSettings | None = None) -> list[tuple[str, int, str]]:
    """Start every app that is not running; returns (name, pid, detail) per app.

    The apps get the stack's random keys (made now if ``up`` has not), unless the environment
    already names keys of its own; this process takes them too, so the settings read here match.
    """
    settings = settings or StackSettings()
    secrets.export(settings, os.environ, create=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    report = []
    for app in apps():
        pid = _running(app, settings)
        if pid is not None:
            report.append((app.name, pid, "already running"))
            continue
        log, pid_file = _paths(app, settings)
        spec = Launch(argv=[sys.executable, "-m", app.module], cwd=Path.cwd())
        pid = launch(spec, log, pid_file, _PYTHON)
        _wait_healthy(app, pid, log)
        report.append((app.name, pid, f"started, {app.processes} processes, log {log}"))
    return report


def stop_apps(settings: StackSettings | None = None) -> list[str]:
    """Stop the apps that run; returns their names."""
    settings = settings or StackSettings()
    stopped = []
    for app in reversed(apps()):
        pid = _running(app, settings)
        if pid is not None:
            terminate(pid, _PYTHON, settings.stop_timeout_s)
            stopped.append(app.name)
        _paths(app, settings)[1].unlink(missing_ok=True)
    return stopped


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def app_status(settings: StackSettings | None = None) -> list[ServiceStatus]:
    """Each app as ``consentstream status`` shows it, without changing anything.

    ``running`` when its recorded process lives (and, for the HTTP apps, ``/healthz`` answers
    200), ``unhealthy`` when it lives but does not answer, ``stopped`` otherwise.
    """
    settings = settings or StackSettings()
    report = []
    for app in apps():
        log, _ = _paths(app, settings)
        pid = _running(app, settings)
        state: State = "stopped"
        detail = ""
        if pid is not None:
            healthy = app.health_url is None or _healthy(app.health_url)
            state = "running" if healthy else "unhealthy"
            detail = "" if healthy else f"{app.health_url} not answering"
        report.append(ServiceStatus(app.name, state, pid, app.address, log, detail))
    return report
