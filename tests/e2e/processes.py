"""Start the collector, worker and API as separate processes, as a user would, and stop them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Pipeline:
    """Running processes and where to reach them."""

    env: dict[str, str]
    collector_url: str
    api_url: str
    procs: dict[str, Proc] = field(default_factory=dict)
    log_dir: Path = Path(".")

    def start(self, name: str, module: str, log_dir: Path | None = None) -> Proc:
        log = (log_dir or self.log_dir) / f"{name}.log"
        # Appending keeps the log of a restarted process; the child has its own descriptor.
        with log.open("ab") as handle:
            popen = subprocess.Popen(
                [sys.executable, "-m", module],
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[name] = Proc(name, popen, log)
        return self.procs[name]

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        proc = self.procs.pop(name)
        if proc.popen.poll() is None:
            os.killpg(proc.popen.pid, sig)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(5)

    def check_alive(self) -> None:
        """Fail at once, with its log, when a process died instead of waiting for a timeout."""
        for proc in self.procs.values():
            if proc.popen.poll() is not None:
                raise AssertionError(f"{proc.name} exited:\n{proc.logs()[-3000:]}")

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [str(Path(sys.executable).parent / "consentstream"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout.strip()


def wait_http(url: str, proc: Proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} exited:\n{proc.logs()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{proc.name} not healthy at {url}:\n{proc.logs()[-3000:]}")


def wait_until(
    predicate, timeout: float = 60, interval: float = 0.5, what: str = "condition", pipe=None
):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if pipe is not None:
            pipe.check_alive()
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@contextmanager
def running_pipeline(env: dict[str, str], log_dir: Path) -> Iterator[Pipeline]:
    """Collector, worker and API on free ports with the given environment."""
    cport, aport = free_port(), free_port()
    env = {
        # the demo site is the collector's origin; its snippet files requests straight to the API
        "CONSENTSTREAM_API_CORS_ORIGINS": f'["http://127.0.0.1:{cport}"]',
        "CONSENTSTREAM_API_URL": f"http://127.0.0.1:{aport}",  # the privacy center files here
        **env,
        # where the snippet posts: the collector never takes its URL from the Host header
        "CONSENTSTREAM_PUBLIC_URL": f"http://127.0.0.1:{cport}",
        "CONSENTSTREAM_COLLECTOR_PORT": str(cport),
        "CONSENTSTREAM_API_PORT": str(aport),
    }
    pipe = Pipeline(env, f"http://127.0.0.1:{cport}", f"http://127.0.0.1:{aport}", log_dir=log_dir)
    try:
        pipe.cli("migrate")
        pipe.start("worker", "streams", log_dir)
        collector = pipe.start("collector", "services.collector", log_dir)
        api = pipe.start("api", "services.api", log_dir)
        wait_http(f"{pipe.collector_url}/healthz", collector)
        wait_http(f"{pipe.api_url}/healthz", api)
        yield pipe
    finally:
        for name in list(pipe.procs):
            pipe.stop(name)
