"""The API as a user meets it: a real ``python -m services.api`` process on a free port.

Not a test module (no tests): the fixtures and helpers the ``test_api_*`` modules share.
Each module gets its own ClickHouse database and topic prefix, migrated with the real CLI, and
keys made through the same audited calls the CLI makes (one per role, plus a revoked one; in this
process, since five more CLI start-ups cost more than the API's own start) and
``key_cache_seconds=0`` so a revocation bites at once.
Rate-limit buckets live under a namespace of the run's own; the failed-authentication limit is
raised (every test runs from 127.0.0.1 and some try many bad keys on purpose) except where a
module sets its own.
All data is synthetic: example.com hosts and made-up visitor ids.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from consentstream.audit import AuditLog, lock_client
from consentstream.audit_anchor import KafkaHeadAnchor
from consentstream.identity import pseudonymize
from consentstream.keys import create_key, revoke_key
from consentstream.storage import open_storage
from consentstream.storage.repository import Repository
from consentstream.topics import Topics
from schemas.rows import ApiRole
from tests.e2e.processes import Pipeline, free_port, wait_http, wait_until
from tests.isolation import isolated_env

PSEUDONYM_KEY = "api-test-pseudonym-key"
RECEIPT_KEY = "api-test-receipt-key"
AUDIT_KEY = "api-test-audit-key"
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
    port = free_port()
    defaults = {
        "pseudonym_key": PSEUDONYM_KEY,
        "receipt_key": RECEIPT_KEY,
        "audit_key": AUDIT_KEY,
        "key_cache_seconds": "0",
        "api_port": str(port),
        "topic_partitions": "1",
        "retention_interval_hours": "0",
        "usage_warm_seconds": "0",
        "rate_limit_namespace": f"test-{secrets.token_hex(4)}:",
        "failed_auth_per_ip": "1000",
    }
    run = isolated_env(
        "api", stack.clickhouse_url, worker_data_dir=tmp.mktemp("worker"), **defaults | settings
    )
    env = run.env
    logs = tmp.mktemp("logs")
    pipe = Pipeline(env, "", f"http://127.0.0.1:{port}")
    storage = open_storage(env["CONSENTSTREAM_CLICKHOUSE_URL"])
    api = Api(pipe.api_url, env, Repository(storage), pipe)
    # Key changes are audited, so the operator making the test keys needs the stack's Redis
    # even when the API under test is given another one.
    operator = Api(api.url, {**env, "CONSENTSTREAM_REDIS_URL": stack.redis_url}, api.repo, pipe)
    try:
        operator.cli("migrate")
        api.keys.update(_make_keys(api.repo, env, stack))
        if worker:
            pipe.start("worker", "streams", logs)
        proc = pipe.start("api", "services.api", logs)
        wait_http(f"{api.url}/healthz", proc)
        yield api
    finally:
        for name in list(pipe.procs):
            pipe.stop(name)
        storage.close()
        run.drop_database()


ROLES: dict[str, ApiRole] = {
    "marketing": "marketing",
    "privacy": "privacy",
    "admin": "admin",
    "revoked": "privacy",
}


def _make_keys(repo: Repository, env: dict[str, str], stack: Any) -> dict[str, str]:
    """A key per role and a revoked privacy key, audited in the run's chain as the CLI does."""
    audit_heads = Topics(env["CONSENTSTREAM_TOPIC_PREFIX"]).audit_heads
    anchor = KafkaHeadAnchor(stack.kafka_bootstrap, audit_heads)
    keys: dict[str, str] = {}
    try:
        with lock_client(stack.redis_url) as redis:
            audit = AuditLog(repo, redis, env["CONSENTSTREAM_AUDIT_KEY"].encode(), anchor)
            for name, role in ROLES.items():
                keys[name] = create_key(repo, audit, role, "cli:test")
            revoke_key(repo, audit, keys["revoked"].split("_")[1], "cli:test")
    finally:
        anchor.close()
    return keys


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
