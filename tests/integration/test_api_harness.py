"""The API as a user meets it: a real ``python -m services.api`` process on a free port.

Not a test module (no tests): the fixtures and helpers the ``test_api_*`` modules share.
Each module gets its own ClickHouse database and topic prefix, keys made with the real CLI
(one per role, plus a revoked one) and ``key_cache_seconds=0`` so a revocation bites at once.
Rate-limit buckets live under a namespace of the run's own; the failed-authentication limit is
raised (every test runs from 127.0.0.1 and some try many bad keys on purpose) except where a
module sets its own.
All data is synthetic: example.com hosts and made-up visitor ids.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from consentstream.identity import pseudonymize
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository
from tests.e2e.processes import Pipeline, free_port, wait_http, wait_until

PSEUDONYM_KEY = "api-test-pseudonym-key"
RECEIPT_KEY = "api-test-receipt-key"
CLI = str(Path(sys.executable).parent / "consentstream")


@dataclass
class Api:
    """A running API (and, if asked, a worker) with a key per role."""

    url: str
    env: dict[str, str]
    repo: Repository
    pipe: Pipeline
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def get(self, path: str, role: str = "privacy", **params: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers=self.headers(role), params=params, timeout=30)

    def post(self, path: str, body: Any, role: str = "privacy") -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=self.headers(role), timeout=30)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args], env=self.env, capture_output=True, text=True, timeout=90, check=check
        )

    def subject(self, visitor_id: str) -> str:
        return pseudonymize(visitor_id, PSEUDONYM_KEY)

    def wait_status(self, request_id: str, status: str, timeout: float = 90) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            got = self.get(f"/v1/privacy/requests/{request_id}")
            assert got.status_code == 200, got.text
            body: dict[str, Any] = got.json()
            return body if body["status"] == status else None

        result: dict[str, Any] = wait_until(
            reached, timeout=timeout, what=f"request {status}", pipe=self.pipe
        )
        return result


def start_api(
    stack: Any, tmp: pytest.TempPathFactory, *, worker: bool, **settings: str
) -> Iterator[Api]:
    """Migrate a fresh database and topics, start the API (and a worker), make keys."""
    run = secrets.token_hex(4)
    database = f"cs_api_{run}"
    server = stack.clickhouse_url.rsplit("/", 1)[0]
    port = free_port()
    env = {
        **os.environ,
        "CONSENTSTREAM_CLICKHOUSE_URL": f"{server}/{database}",
        "CONSENTSTREAM_TOPIC_PREFIX": f"api{run}.",
        "CONSENTSTREAM_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "CONSENTSTREAM_RECEIPT_KEY": RECEIPT_KEY,
        "CONSENTSTREAM_KEY_CACHE_SECONDS": "0",
        "CONSENTSTREAM_API_PORT": str(port),
        "CONSENTSTREAM_WORKER_APP_ID": f"cs-api-{run}",
        "CONSENTSTREAM_WORKER_DATA_DIR": str(tmp.mktemp("worker")),
        "CONSENTSTREAM_TOPIC_PARTITIONS": "1",
        "CONSENTSTREAM_RETENTION_INTERVAL_HOURS": "0",
        "CONSENTSTREAM_USAGE_WARM_SECONDS": "0",
        "CONSENTSTREAM_RATE_LIMIT_NAMESPACE": f"test-{run}:",
        "CONSENTSTREAM_FAILED_AUTH_PER_IP": "1000",
        **{f"CONSENTSTREAM_{name.upper()}": value for name, value in settings.items()},
    }
    logs = tmp.mktemp("logs")
    pipe = Pipeline(env, "", f"http://127.0.0.1:{port}")
    storage = open_storage(env["CONSENTSTREAM_CLICKHOUSE_URL"])
    api = Api(pipe.api_url, env, Repository(storage), pipe)
    try:
        api.cli("migrate")
        for role in ("marketing", "privacy", "admin", "revoked"):
            made = api.cli("keys", "create", "--role", "privacy" if role == "revoked" else role)
            api.keys[role] = made.stdout.strip()
        api.cli("keys", "revoke", api.keys["revoked"].split("_")[1])
        if worker:
            pipe.start("worker", "streams", logs)
        proc = pipe.start("api", "services.api", logs)
        wait_http(f"{api.url}/healthz", proc)
        yield api
    finally:
        for name in list(pipe.procs):
            pipe.stop(name)
        storage.command(sql.statement(sql.DROP_DATABASE, database))
        storage.close()


EXTREME_QUERY_VALUES = [
    "0001-01-02T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:00:00-05:00",
    "9999-12-31T23:59:59.999999Z",
    "1" + "0" * 40,
    "-" + "9" * 40,
    "1e308",
    "NaN",
    "",
    "\x00",
    "%C0%AF%FF",  # not UTF-8 once percent-decoded
    "\u202e2026-01-01T00:00:00Z",
    "\u0661\u0669\u0667\u0661-\u0660\u0661-\u0660\u0661",  # 1971-01-01 in Arabic-Indic digits
    "\U0001d7d8\U0001d7d9\ufeff\u200d",
]
"""Query values at the edges: years 1 and 9999 with offsets, huge numbers, odd unicode."""
