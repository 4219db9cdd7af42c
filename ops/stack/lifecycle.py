"""Start, stop and inspect one service: idempotent, locked, with clear failures.

``start`` does nothing for a service already running from this stack folder, refuses a port held
by a process that is not ours, and waits until a real client request succeeds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ops.stack import process
from ops.stack.base import Progress, Service, ServiceStatus, StackError, State


def status(service: Service) -> ServiceStatus:
    """Report without changing anything: running, unhealthy, stopped or port taken."""
    pid = _our_pid(service)
    if pid is not None:
        state: State = "running" if service.is_ready() else "unhealthy"
        detail = service.state_detail() if state == "running" else "not answering"
        return _report(service, state, pid, detail)
    taken = _taken_port(service)
    if taken is not None:
        detail = f"port {taken} used by {process.port_owner(taken)}"
        return _report(service, "port taken", None, detail)
    return _report(service, "stopped", None)


def start(service: Service, progress: Progress) -> ServiceStatus:
    """Make the service run and answer; a no-op (reported "already running") if it does."""
    with process.locked(service.settings.run_dir / f"{service.name}.lock"):
        pid = _our_pid(service)
        if pid is not None:
            _wait_ready(service, pid, progress)
            service.after_ready(progress)
            return _report(service, "running", pid, "already running")
        _refuse_taken_port(service)
        spec = service.prepare(progress)
        began = time.monotonic()
        progress(f"starting {service.name}")
        pid = process.launch(spec, service.log, service.pid_file, service.exe_names)
        _wait_ready(service, pid, progress)
        service.after_ready(progress)
        return _report(service, "running", pid, f"started in {time.monotonic() - began:.1f} s")


@contextmanager
def running(services: Sequence[Service], *, keep: bool = False) -> Iterator[None]:
    """``services`` started in order, quietly; stopped in reverse on leaving (``keep``: left
    running), also when one of them failed to start."""
    try:
        for service in services:
            start(service, lambda _text: None)
        yield
    finally:
        if not keep:
            for service in reversed(services):
                stop(service)


def stop(service: Service) -> ServiceStatus:
    """SIGTERM our process (SIGKILL after the timeout), drop the pid file, keep the data."""
    with process.locked(service.settings.run_dir / f"{service.name}.lock"):
        pid = _our_pid(service)
        service.pid_file.unlink(missing_ok=True)
        if pid is None:
            return _report(service, "stopped", None, "not running")
        killed = process.terminate(pid, service.exe_names, service.settings.stop_timeout_s)
        return _report(service, "stopped", pid, "killed (SIGKILL)" if killed else "stopped")


def _our_pid(service: Service) -> int | None:
    """Pid from our pid file if that process is still our server: right binary, running in
    this stack's folder for the service (a recycled pid or another stack's server is not)."""
    pid = process.read_pid(service.pid_file)
    if pid is None or not process.is_alive(pid, service.exe_names):
        return None
    return pid if process.working_dir(pid) == service.home else None


def _taken_port(service: Service) -> int | None:
    """First port of the service already accepting connections, if any."""
    host = service.settings.host
    return next((port for port in service.ports if process.port_open(host, port)), None)


def _refuse_taken_port(service: Service) -> None:
    """A foreign listener would make our server fail obscurely; say who holds the port."""
    port = _taken_port(service)
    if port is None:
        return
    raise StackError(
        f"{service.name}: port {port} on {service.settings.host} is already in use by "
        f"{process.port_owner(port)}, which this stack ({service.settings.root}) did not start. "
        f"Stop that process, or choose other ports (CONSENTSTREAM_{service.name.upper()}_PORT…)."
    )


def _wait_ready(service: Service, pid: int, progress: Progress) -> None:
    """Poll the readiness probe until it succeeds, the process dies, or the timeout passes."""
    progress(f"waiting for {service.name} on {service.address}")
    deadline = time.monotonic() + service.settings.ready_timeout_s
    while not service.is_ready():
        if not process.is_alive(pid, service.exe_names):
            service.pid_file.unlink(missing_ok=True)
            raise _failure(service, "exited before answering")
        if time.monotonic() > deadline:
            raise _failure(service, f"did not answer within {service.settings.ready_timeout_s:g} s")
        time.sleep(0.25)


def _failure(service: Service, what: str) -> StackError:
    """An error naming the log, with its last lines so CI output shows the cause."""
    last = process.tail(service.log)
    return StackError(f"{service.name} {what}; see {service.log}\n--- last log lines ---\n{last}")


def _report(service: Service, state: State, pid: int | None, detail: str = "") -> ServiceStatus:
    """Build the status record for ``service``."""
    return ServiceStatus(service.name, state, pid, service.address, service.log, detail)
