"""What every stack service provides, and the error and status types the stack hands back."""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import ClassVar, Literal

from ops.stack.config import StackSettings

State = Literal["running", "unhealthy", "stopped", "port taken"]
Progress = Callable[[str], None]


class StackError(RuntimeError):
    """A service could not be prepared, started or stopped; the message says what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    """What one service is doing, as ``status()``, ``start()`` and ``stop()`` report it."""

    name: str
    state: State
    pid: int | None
    address: str
    log: Path
    detail: str = ""


@dataclass(frozen=True)
class Launch:
    """The command that runs a service in the foreground (we detach it ourselves)."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


def no_progress(_message: str) -> None:
    """Default progress callback: the library stays silent."""


def render_template(name: str, **values: str) -> str:
    """Fill a ``$placeholder`` template shipped as package data in ``templates/``."""
    text = resources.files("ops.stack").joinpath("templates", name).read_text()
    return Template(text).substitute(values)


def find_executable(name: str, fallbacks: tuple[str, ...] = ()) -> str | None:
    """Locate a binary; Debian puts some servers in /usr/sbin, absent from a user's PATH."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in fallbacks:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class Service(ABC):
    """One background server of the stack: how to prepare, launch and probe it."""

    name: ClassVar[str]
    exe_names: ClassVar[tuple[str, ...]]
    """Basenames of /proc/<pid>/exe that prove a pid from our pid file is still our server."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings

    @property
    def home(self) -> Path:
        """The service's own folder under the stack folder (config and data)."""
        return self.settings.root / self.name

    @property
    def log(self) -> Path:
        """Where the service's output goes; named in every error message."""
        return self.settings.logs_dir / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        """Pid of the process we started; absent when stopped."""
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def address(self) -> str:
        """host:port clients use."""
        return f"{self.settings.host}:{self.ports[0]}"

    @property
    @abstractmethod
    def ports(self) -> tuple[int, ...]:
        """Every port the server binds, client port first."""

    @abstractmethod
    def prepare(self, progress: Progress) -> Launch:
        """Write configs, fetch or format what is missing, and return the command to run."""

    @abstractmethod
    def is_ready(self) -> bool:
        """True once a real client request succeeds; never raises."""

    def after_ready(self, progress: Progress) -> None:
        """Work that needs the server answering (joining peers into a cluster); idempotent,
        run by every ``start``, raises :class:`StackError` when it cannot be done."""
        return None  # most servers need nothing once they answer

    def state_detail(self) -> str:
        """What ``status`` adds about a running server beyond "running" (empty: nothing)."""
        return ""
