"""Shared fixtures: service addresses come from settings; a missing service fails the run."""

from __future__ import annotations

import os
import secrets
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from consentstream.settings import CommonSettings
from tests.figures import FIGURES

# Test mode is explicit: only here may a suite run with short throwaway keys (a suite that
# names its own keys in a process's environment uses them). Every process a test starts
# inherits this environment, so the collector, worker, API and CLI of one run share the keys.
os.environ.setdefault("CONSENTSTREAM_ENVIRONMENT", "test")
os.environ.setdefault("CONSENTSTREAM_PSEUDONYM_KEY", secrets.token_urlsafe(32))
os.environ.setdefault("CONSENTSTREAM_RECEIPT_KEY", secrets.token_urlsafe(32))
os.environ.setdefault("CONSENTSTREAM_AUDIT_KEY", secrets.token_urlsafe(32))
os.environ.setdefault("CONSENTSTREAM_MASTER_KEY", secrets.token_urlsafe(32))
os.environ.setdefault("CONSENTSTREAM_RECEIPT_SIGNING_KEY", secrets.token_urlsafe(32))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def common_settings() -> CommonSettings:
    """Addresses of the real local stack (``consentstream up``)."""
    return CommonSettings()


@pytest.fixture(scope="session")
def stack(common_settings: CommonSettings) -> CommonSettings:
    """Fail (never skip) when a service of the stack is not answering."""
    missing = []
    for name, host_port in (
        ("kafka", common_settings.kafka_bootstrap.split(",")[0]),
        ("redis", urlsplit(common_settings.redis_url).netloc),
        ("clickhouse", urlsplit(common_settings.clickhouse_url).netloc),
    ):
        host, _, port = host_port.rpartition(":")
        if not _reachable(host, int(port)):
            missing.append(f"{name} at {host_port}")
    if missing:
        pytest.fail(f"stack not running ({', '.join(missing)}): run `consentstream up` first")
    return common_settings


# Suites whose expensive fixtures are package- or session-scoped (a browser pipeline, a fault
# stack, a ClickHouse cluster) run whole on one xdist worker, so each starts once; every other
# test file is a unit of its own, so its module-scoped services start once too.
WHOLE_SUITES = frozenset({"browser", "cluster", "faults"})


def suite_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its suite for the suites above, else its file."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in WHOLE_SUITES:
        return parts[1]
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Schedule by :func:`suite_of` (xdist's own group marks no longer reach its scheduler
    under pytest 9, whose node ids xdist can no longer suffix)."""
    # a dev dependency, imported only when xdist schedules; it ships no type information
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class SuiteScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return suite_of(nodeid)

    return SuiteScheduling(config, log)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what every fault scenario sent, acknowledged and stored.

    Here, not in the fault suite's conftest: under xdist the controlling process never collects
    tests, so only this conftest's hooks run where the summary is printed; the figures come in
    the reports the workers send back.
    """
    reports = [r for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])]
    lines = [
        value
        for r in reports
        if r.when == "call"
        for name, value in getattr(r, "user_properties", ())
        if name == FIGURES
    ]
    if lines:
        terminalreporter.section("fault scenarios")
        for line in lines:
            terminalreporter.write_line(line)
