"""Several processes of one deployable, so every core of the machine does its share.

``python -m streams``, ``python -m services.collector`` and ``python -m services.api`` each
read a ``*_PROCESSES`` setting (0: one per core). With more than one, the process that was
started becomes a small supervisor: it starts that many copies of itself as children (each told
it is one of N, so it runs alone), restarts a child that dies, and stops them all on SIGTERM or
SIGINT. The HTTP apps' children each bind the same port with ``SO_REUSEPORT``, so the kernel
spreads connections over them; the worker's children are consumers of one group.

Prometheus counters live in the process that counts, so each child writes its metrics to files
in a directory shared with its siblings (prometheus_client's multiprocess mode,
``PROMETHEUS_MULTIPROC_DIR``), and whoever serves /metrics sums them across processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from prometheus_client import CollectorRegistry, multiprocess

log = logging.getLogger(__name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
INDEX = "CONSENTSTREAM_PROCESS_INDEX"
PARENT = "CONSENTSTREAM_PROCESS_PARENT"
RESTART_DELAY = 1.0
SETTLE_SECONDS = 60.0
"""A child that exits sooner than this after its start is taken as unable to run."""
_PR_SET_PDEATHSIG = 1


def count(setting: int) -> int:
    """How many processes a ``*_PROCESSES`` setting asks for (0: one per core)."""
    return setting if setting > 0 else (os.cpu_count() or 1)


def index() -> int | None:
    """This process's number among its siblings, None when it was not started by a supervisor."""
    value = os.environ.get(INDEX)
    return int(value) if value else None


def is_leader() -> bool:
    """True in the one process that runs a deployable's periodic jobs (the first, or the only)."""
    return index() in (None, 0)


def registry_for(own: CollectorRegistry) -> CollectorRegistry:
    """What /metrics should expose: ``own`` alone, or every sibling's sum in multiprocess mode."""
    directory = os.environ.get(MULTIPROC_DIR)
    if not directory:
        return own
    summed = CollectorRegistry()
    multiprocess.MultiProcessCollector(summed, path=directory)  # type: ignore[no-untyped-call]
    return summed


def follow_parent() -> None:
    """In a supervised child: die with the supervisor, so no orphan keeps consuming or serving.

    Children run in a session of their own, so a stop reaches them once, from the supervisor
    (a second SIGTERM or SIGINT makes some servers skip their graceful shutdown). When the
    supervisor itself is killed the kernel kills them too, as if they were killed with it; a
    parent already gone before this call is seen by the changed parent pid.
    """
    parent = os.environ.get(PARENT)
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != int(parent):
        raise SystemExit("supervisor gone before this process started")


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that sibling processes bind too; the kernel balances between them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def metrics_dir() -> Path:
    """The multiprocess metrics directory: the one the environment names, else a new one.

    Files of an earlier run are removed: their counts belong to processes that are gone.
    """
    named = os.environ.get(MULTIPROC_DIR)
    path = Path(named) if named else Path(tempfile.mkdtemp(prefix="consentstream-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_DIR] = str(path)
    return path


ChildEnv = Callable[[int], dict[str, str]]


class Supervisor:
    """Runs N copies of ``python -m module`` until told to stop; restarts one that dies."""

    def __init__(self, module: str, processes: int, child_env: ChildEnv) -> None:
        self.module = module
        self.processes = processes
        self.child_env = child_env
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.started: dict[int, float] = {}
        self.stopping = False
        self.failed = False
        # Set before any child starts, so every child (and /metrics here) uses the same files.
        self.owns_dir = not os.environ.get(MULTIPROC_DIR)
        self.directory = metrics_dir()

    def _start(self, number: int) -> None:
        env = {**os.environ, INDEX: str(number), PARENT: str(os.getpid())}
        env.update(self.child_env(number))
        argv = [sys.executable, "-m", self.module]
        self.children[number] = subprocess.Popen(argv, env=env, start_new_session=True)
        self.started[number] = time.monotonic()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)

    def _reap(self) -> None:
        """Restart a child that died after running a while; one that died young ends us all.

        A child that cannot even start (bad settings, a port taken) would fail the same way on
        every restart: the supervisor stops and exits non-zero, as a single process would.
        """
        for number, child in list(self.children.items()):
            code = child.poll()
            if code is None or self.stopping:
                continue
            log.warning("%s process %d (pid %d) exited %s", self.module, number, child.pid, code)
            multiprocess.mark_process_dead(child.pid)  # type: ignore[no-untyped-call]
            if time.monotonic() - self.started[number] < SETTLE_SECONDS:
                self.failed = True
                self._stop(signal.SIGTERM, None)
                return
            time.sleep(RESTART_DELAY)
            if not self.stopping:
                self._start(number)

    def run(self, grace: float = 30.0) -> int:
        """Start the children and watch them; returns once all stopped after a signal."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for number in range(self.processes):
            self._start(number)
        log.info("%s: %d processes", self.module, self.processes)
        while not self.stopping:
            self._reap()
            time.sleep(0.2)
        return self._wait(grace)

    def _wait(self, grace: float) -> int:
        deadline = time.monotonic() + grace
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        if self.owns_dir:
            shutil.rmtree(self.directory, ignore_errors=True)
        return 1 if self.failed else 0
