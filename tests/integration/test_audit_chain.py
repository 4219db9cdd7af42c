"""The audit chain across processes, on the real ClickHouse server and Redis.

Several processes (as several API replicas and the CLI would be) append to one audit table at
the same instant; the Redis lock must leave one chain with contiguous seqs, which is what
``consentstream audit verify`` checks. Without Redis an append fails and writes nothing.
Each test uses a database of its own (so a lock key of its own); all data is synthetic.
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from consentstream import audit, redis_keys
from consentstream.audit import AuditLog, AuditUnavailable, lock_client, verify
from consentstream.storage import open_storage, sql
from consentstream.storage.repository import Repository
from tests.e2e.processes import free_port

from .api_harness import Api, start_api
from .storage_fixtures import server_url

pytestmark = pytest.mark.integration

KEY = b"chain-test-audit-key"
PROCESSES = 4
APPENDS_EACH = 15


@pytest.fixture
def database(stack) -> Iterator[str]:
    """A migrated database of this test's own on the server, dropped afterwards."""
    name = f"cs_chain_{secrets.token_hex(6)}"
    storage = open_storage(server_url(name))
    storage.migrate()
    try:
        yield name
    finally:
        storage.command(sql.statement(sql.DROP_DATABASE, name))
        storage.close()


@pytest.fixture
def repo(database: str) -> Iterator[Repository]:
    storage = open_storage(server_url(database))
    yield Repository(storage)
    storage.close()


def _append_many(url: str, redis_url: str, name: str, count: int, go: Any) -> None:
    """One appender process: its own storage and Redis client, starting when ``go`` is set."""
    storage = open_storage(url)
    redis = lock_client(redis_url)
    try:
        log = AuditLog(Repository(storage), redis, KEY)
        go.wait(30)
        for n in range(count):
            log.append(name, "privacy", "request.read", f"subject-{name}-{n}", {"n": n})
    finally:
        redis.close()
        storage.close()


def test_concurrent_processes_keep_one_contiguous_chain(
    stack, database: str, repo: Repository
) -> None:
    spawn = multiprocessing.get_context("spawn")
    go = spawn.Event()
    names = [f"appender{i}" for i in range(PROCESSES)]
    procs = [
        spawn.Process(
            target=_append_many,
            args=(server_url(database), stack.redis_url, name, APPENDS_EACH, go),
        )
        for name in names
    ]
    for proc in procs:
        proc.start()
    go.set()  # all at once, so unlocked appends would read the same last entry
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES

    entries = repo.audit_entries()
    verdict = verify(entries, KEY)
    assert verdict.ok, f"chain broken at seq {verdict.broken_seq}: {verdict.reason}"
    assert [e.seq for e in entries] == list(range(1, PROCESSES * APPENDS_EACH + 1))
    assert Counter(e.actor for e in entries) == dict.fromkeys(names, APPENDS_EACH)


def test_without_redis_an_append_fails_and_writes_nothing(repo: Repository) -> None:
    with lock_client(f"redis://127.0.0.1:{free_port()}/0") as unreachable:
        log = AuditLog(repo, unreachable, KEY)
        with pytest.raises(AuditUnavailable, match="Redis is unreachable"):
            log.append("k1", "privacy", "request.read", "subject", {})
    assert repo.audit_entries() == []


def test_an_append_waits_for_the_holder_then_gives_up(
    stack, repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "LOCK_WAIT_SECONDS", 0.3)
    with lock_client(stack.redis_url) as redis:
        log = AuditLog(repo, redis, KEY)
        log.append("k1", "privacy", "request.read", "subject-1", {})
        holder = redis.lock(log.lock_name, timeout=30)
        assert holder.acquire(blocking=False)
        try:
            with pytest.raises(AuditUnavailable, match="held the audit chain"):
                log.append("k2", "privacy", "request.read", "subject-2", {})
        finally:
            holder.release()
        log.append("k3", "privacy", "request.read", "subject-3", {})
    assert [(e.seq, e.actor) for e in repo.audit_entries()] == [(1, "k1"), (2, "k3")]


class _LosesLock(Repository):
    """A repository whose read of the last entry outlives the lock (its key vanishes)."""

    def __init__(self, repo: Repository, redis: Any) -> None:
        super().__init__(repo.storage)
        self.redis = redis

    def last_audit(self) -> tuple[int, str] | None:
        self.redis.delete(redis_keys.audit_lock(self.storage.database))
        return super().last_audit()


def test_an_append_whose_lock_expired_writes_nothing(stack, repo: Repository) -> None:
    with lock_client(stack.redis_url) as redis:
        log = AuditLog(_LosesLock(repo, redis), redis, KEY)
        with pytest.raises(AuditUnavailable, match="expired before the insert"):
            log.append("k1", "privacy", "request.read", "subject", {})
    assert repo.audit_entries() == []


@pytest.fixture
def api_without_redis(stack, tmp_path_factory) -> Iterator[Api]:
    """An API whose Redis address answers nothing (as when Redis is down)."""
    yield from start_api(
        stack, tmp_path_factory, worker=False, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )


def test_the_api_answers_503_and_does_nothing_when_the_chain_cannot_be_locked(
    api_without_redis: Api,
) -> None:
    api = api_without_redis
    body = {"type": "deletion", "subject": {"visitor_id": "no-redis-" + secrets.token_hex(4)}}
    filed = api.post("/v1/privacy/requests", body)
    assert filed.status_code == 503, filed.text
    assert filed.headers["Retry-After"]
    assert filed.json()["error"]["code"] == "unavailable"
    assert api.repo.list_privacy_requests() == []
    assert {e.action for e in api.repo.audit_entries()} == {"key.create", "key.revoke"}  # set-up
    assert api.get("/v1/privacy/requests").status_code == 200  # unaudited reads still work


def test_console_reads_only_the_entries_it_shows(stack, repo: Repository) -> None:
    """A request's trail and the filings come from filtered reads, in chain order."""
    with lock_client(stack.redis_url) as redis:
        log = AuditLog(repo, redis, KEY)
        log.append("k1", "privacy", "request.file", "s1", {"request_id": "r-1", "type": "access"})
        log.append("k1", "privacy", "request.file", "s2", {"request_id": "r-2", "type": "erasure"})
        log.append("k2", "privacy", "request.approve", "s1", {"request_id": "r-1"})
        log.append("k2", "privacy", "request.read", "s3", {"n": 1})
    assert [(e.seq, e.action) for e in repo.audit_of_request("r-1")] == [
        (1, "request.file"),
        (3, "request.approve"),
    ]
    assert [e.target for e in repo.audit_of_action("request.file")] == ["s1", "s2"]
    assert repo.audit_of_request("r-9") == []
    assert repo.audit_count() == 4
