"""A ClickHouse replica killed under load: no acknowledged event lost, erasure still completes.

Rows are written through the Distributed table the way the worker writes them (a batch is
acknowledged when ``insert`` returns; a failed batch is retried as it was). The node the
storage connects to first is killed with SIGKILL mid-load, so the writer must fail over to the
other nodes; an erasure is requested while it is down and may only report zero once the node
is back and has applied it too.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from consentstream.storage import Storage, StorageError, open_storage, sql
from consentstream.storage.repository import Repository
from ops.stack import lifecycle, process
from ops.stack.base import Service
from ops.stack.cluster import clickhouse_nodes, cluster_url
from ops.stack.config import StackSettings
from tests.integration.storage_fixtures import new_key, usage_event

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.faults]

BATCHES = int(os.environ.get("FAULT_SCALE", "1")) * 60
BATCH_SIZE = 50
SUBJECT_BATCHES = (0, 5, 10)


class Writer(threading.Thread):
    """Inserts batches until told to stop; records the event ids of acknowledged batches."""

    def __init__(self, repo: Repository, subject: str) -> None:
        super().__init__(daemon=True)
        self.repo, self.subject = repo, subject
        self.acknowledged: list[uuid.UUID] = []
        self.retries = 0

    def run(self) -> None:
        for number in range(BATCHES):
            # Early batches of the subject who later asks for erasure (its later events would
            # be suppressed upstream, so none arrive after the request).
            key = self.subject if number in SUBJECT_BATCHES else None
            rows = [usage_event(key or new_key()) for _ in range(BATCH_SIZE)]
            while True:
                try:
                    self.repo.insert_usage_events(rows)
                    break
                except StorageError:
                    self.retries += 1
                    time.sleep(0.2)
            if key is None:
                self.acknowledged.extend(row.event_id for row in rows)
            time.sleep(0.02)


@pytest.fixture(name="loaded")
def loaded_fixture(cluster_stack: StackSettings) -> Iterator[Storage]:
    """A cluster-mode storage on a database of its own, dropped afterwards."""
    database = f"cs_fault_{uuid.uuid4().hex[:12]}"
    store = open_storage(cluster_url(cluster_stack, database))
    store.migrate()
    try:
        yield store
    finally:
        store.command(sql.statement(sql.DROP_DATABASE, database, cluster=store.cluster))
        store.close()


def erase(repo: Repository, subject: str) -> dict[str, int]:
    """Delete as the privacy job does: retry while a replica cannot confirm, then verify."""
    while True:
        try:
            before = repo.delete_subject(subject)
            after = repo.count_subject(subject)
        except StorageError:
            time.sleep(0.5)
            continue
        return {f"{table}.after": n for table, n in after.items()} | before


def kill_hard(node: Service) -> None:
    """SIGKILL, as a crash would: no shutdown, nothing flushed by the server itself."""
    pid = process.read_pid(node.pid_file)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    while process.is_alive(pid, node.exe_names):
        time.sleep(0.05)


def wait_until_every_replica_answers(store: Storage, timeout: float = 120.0) -> None:
    """The restarted node is back for reads too, not only for the writer's fail-over."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answers = store.on_every_replica("SELECT 1 AS n")
            if answers and all(a.rows is not None for a in answers):
                return
        except (StorageError, OSError):
            pass
        assert time.monotonic() < deadline, "a replica did not come back"
        time.sleep(0.5)


def test_killed_replica_loses_no_acknowledged_event_and_erasure_completes(
    cluster_stack: StackSettings, loaded: Storage
) -> None:
    repo = Repository(loaded, mutation_timeout=120.0)
    subject = new_key()
    entry = clickhouse_nodes(cluster_stack)[0]  # the first host of the storage URL
    writer = Writer(repo, subject)
    writer.start()
    while len(writer.acknowledged) < 15 * BATCH_SIZE:  # the subject's batches are in
        time.sleep(0.1)
    kill_hard(entry)
    erased: dict[str, int] = {}
    eraser = threading.Thread(target=lambda: erased.update(erase(repo, subject)))
    time.sleep(1.0)
    eraser.start()  # while the node is down: only its return can confirm the deletion
    time.sleep(2.0)
    lifecycle.start(entry, lambda _text: None)
    writer.join(timeout=240)
    eraser.join(timeout=240)
    assert not writer.is_alive() and not eraser.is_alive()
    wait_until_every_replica_answers(loaded)

    stored = {
        row["event_id"]
        for row in loaded.query(
            sql.statement("SELECT event_id FROM {db}.usage_events FINAL", loaded.database)
        )
    }
    assert len(writer.acknowledged) == (BATCHES - len(SUBJECT_BATCHES)) * BATCH_SIZE
    assert set(writer.acknowledged) == stored  # 0 acknowledged events lost, the subject gone
    assert repo.count_rows("usage_events") == len(stored)  # 0 duplicates visible
    assert erased == {
        "usage_events": len(SUBJECT_BATCHES) * BATCH_SIZE,
        "consent_ledger": 0,
        "usage_events.after": 0,
        "consent_ledger.after": 0,
    }
    # Every replica, the restarted one included, holds none of the subject's rows.
    statement = sql.statement(sql.COUNT_SUBJECT_LOCAL, loaded.database, sql.USAGE_EVENTS, "c")
    answers = loaded.on_every_replica(statement, {"visitor_key": subject})
    assert [a.rows[0]["n"] if a.rows else None for a in answers] == [0, 0, 0, 0]
    print(  # noqa: T201  (figures for the run's log)
        f"cluster fault: {len(writer.acknowledged)} acknowledged, {len(stored)} stored,"
        f" {writer.retries} retried batches, first erasure counted {erased}"
    )
