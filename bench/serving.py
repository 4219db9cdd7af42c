"""Starting and waiting for a server a benchmark runs: a free port and one readiness poll for
every bench."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(
    proc: Any, url: str, what: str, *, seconds: float = 30.0, log: Path | None = None
) -> None:
    """Poll ``url``/healthz until it answers 200.

    Exits the bench at once if ``proc`` dies while starting (with the tail of ``log``, where its
    output went), or after ``seconds`` (the process killed): a bench never times a half-started
    server.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = f":\n{log.read_text(errors='replace')[-3000:]}" if log else ""
            raise SystemExit(f"{what} exited while starting{tail}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{what} did not answer /healthz in {seconds:.0f} s")
