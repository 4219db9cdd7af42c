"""Process plumbing shared by the services: pid files, port probes, detached launch, stop.

Services are started as grandchildren in their own session (``sh`` runs ``setsid`` and exits), so
they outlive the CLI or test that started them and never linger as its zombies; a pid file plus
a check of /proc/<pid>/exe and /proc/<pid>/cwd tells "ours and alive" from a recycled pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from ops.stack.base import Launch

_SPAWN = 'setsid "$@" >&2 & echo $!'
"""Background the server in a new session with output to our stderr (the log); print its pid."""


def read_pid(pid_file: Path) -> int | None:
    """The pid recorded in ``pid_file``, or None when there is none or it is garbage."""
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def is_alive(pid: int, exe_names: tuple[str, ...]) -> bool:
    """True if ``pid`` runs and its executable is one of ``exe_names`` (not a recycled pid)."""
    try:
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and exe.removesuffix(" (deleted)") in exe_names


def working_dir(pid: int) -> Path | None:
    """Current directory of ``pid``: our servers run in their folder of this stack."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def port_owner(port: int) -> str:
    """Describe who listens on ``port`` ("pid 12 (java)"), from /proc, best effort."""
    inodes = _listening_inodes(port)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if _has_socket(pid, inodes):
            return f"pid {pid} ({_command(pid)})"
    return "a process this user cannot see"


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes in LISTEN state (0A) on ``port``, IPv4 and IPv6."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _has_socket(pid: str, inodes: set[str]) -> bool:
    """True if process ``pid`` holds one of the socket ``inodes``."""
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return True
    return False


def _command(pid: str) -> str:
    """Short command line of ``pid`` for messages."""
    with contextlib.suppress(OSError):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        return " ".join(a.decode(errors="replace") for a in argv if a)[:160]
    return "?"


def launch(spec: Launch, log: Path, pid_file: Path, exe_names: tuple[str, ...]) -> int:
    """Start ``spec`` detached (own session, output appended to ``log``) and record its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%F %T')} consentstream: {' '.join(spec.argv)}\n".encode())
        out.flush()
        shell = subprocess.run(
            ["/bin/sh", "-c", _SPAWN, "sh", *spec.argv],
            cwd=spec.cwd,
            env={**os.environ, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=out,
            check=True,
            timeout=30,
        )
    pid = int(shell.stdout)
    pid_file.write_text(f"{pid}\n")
    _wait_exec(pid, exe_names)
    return pid


def _wait_exec(pid: int, exe_names: tuple[str, ...], timeout: float = 5.0) -> None:
    """Wait until ``pid`` is the server binary, not still the ``sh``/``setsid`` that execs it,
    so that ``is_alive`` right after the launch cannot mistake a starting server for a dead one."""
    deadline = time.monotonic() + timeout
    while not is_alive(pid, exe_names) and time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.01)


def terminate(pid: int, exe_names: tuple[str, ...], timeout: float) -> bool:
    """SIGTERM the process group of ``pid``, SIGKILL it after ``timeout``; True if it was killed."""
    _signal(pid, signal.SIGTERM)
    if _wait_gone(pid, exe_names, timeout):
        return False
    _signal(pid, signal.SIGKILL)
    _wait_gone(pid, exe_names, 10.0)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signal the whole session we started (the server and anything it forked)."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _wait_gone(pid: int, exe_names: tuple[str, ...], timeout: float) -> bool:
    """Poll until ``pid`` has exited; True if it did within ``timeout``."""
    deadline = time.monotonic() + timeout
    while is_alive(pid, exe_names):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def tail(path: Path, lines: int = 15) -> str:
    """Last lines of a log, for error messages."""
    with contextlib.suppress(OSError):
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 16_384))
            text = handle.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])
    return ""


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Serialise start/stop of one service across concurrent ``consentstream`` processes."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
