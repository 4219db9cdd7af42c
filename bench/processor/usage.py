"""CPU used by each process of an end-to-end run over a window, from /proc (Linux only).

Kafka, ClickHouse and Redis are shared by everyone on the box (the longest-running process of
each: tests that start a stack of their own start younger ones), so their figures include
other clients' work; ``box`` is every core's busy time (all processes, neighbours included),
the sign of a saturated machine when it nears the core count.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.proctree import cpu_seconds

SERVICES = {"kafka": b"kafka.Kafka", "clickhouse": b"clickhouse-server", "redis": b"redis-server"}


def _service_pids() -> dict[str, int]:
    """The longest-running process of each service: the shared stack, not a test's own."""
    found: dict[str, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            started = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[19])
        except (OSError, IndexError, ValueError):
            continue
        for name, mark in SERVICES.items():
            if mark in command and (name not in found or started < found[name][0]):
                found[name] = (started, int(entry.name))
    return {name: pid for name, (_, pid) in found.items()}


def _own(pid: int) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / tick


def _box() -> float:
    """Busy CPU seconds of the whole machine (every core, every process)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds of the run's processes, the shared services, the bench and the box."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.services = _service_pids()
        self.began = time.time()
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        for name, pid in self.services.items():
            now[name] = _own(pid)
        now["load generator + poller"] = _own(os.getpid())
        now["box"] = _box()
        return now

    def read(self) -> dict[str, float]:
        """CPU seconds of each since the meter was made, and ``seconds`` of wall time."""
        now = self._now()
        out = {name: now[name] - self.start[name] for name in now}
        out["seconds"] = time.time() - self.began
        return out
