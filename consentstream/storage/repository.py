"""The reads and writes the product needs, over any :class:`Storage`.

Services call these instead of writing SQL, so the statements stay in :mod:`sql` and each
one is proven on ClickHouse 18.16 and chdb. Synchronous like the storage itself: async code
wraps calls in ``asyncio.to_thread``.

Duplicates: every table is a ReplacingMergeTree, so a replayed row is removed when parts
merge. Until then reads that must not show duplicates (subject data, counts, privacy
requests) use ``FINAL``; :meth:`Repository.compact` forces the merge (tests, purge jobs).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from consentstream.storage import replicas, sql
from consentstream.storage.audit_log import AuditTable
from consentstream.storage.base import Storage
from consentstream.storage.errors import MutationTimeout
from consentstream.storage.reports import Reports
from schemas.rows import (
    ApiKeyRow,
    ApiRole,
    ConsentLedgerRow,
    LegalHoldRow,
    PrivacyRequestRow,
    UsageEventRow,
    UsageEventValues,
)

_POLL_SECONDS = 0.05


class Repository(Reports, AuditTable):
    """Typed access to the consentstream tables of one storage."""

    def __init__(self, storage: Storage, *, mutation_timeout: float = 60.0) -> None:
        self.storage = storage
        self.mutation_timeout = mutation_timeout

    def insert_usage_events(
        self,
        rows: Sequence[UsageEventRow] | Sequence[UsageEventValues],
        dedup_token: str | None = None,
    ) -> None:
        """Write minimized usage events as one block; a replay of the same events is harmless.

        Rows are models or their cells in column order (the stream worker's, built as such).

        ``dedup_token`` should identify the batch's content (e.g. its Kafka offsets).
        """
        self.storage.insert(sql.USAGE_EVENTS, rows, dedup_token)

    def insert_consents(self, rows: Sequence[ConsentLedgerRow]) -> None:
        """Record consent decisions, the proof of what each visitor chose."""
        self.storage.insert(sql.CONSENT_LEDGER, rows)

    def subject_rows(self, visitor_key: str) -> dict[str, list[dict[str, Any]]]:
        """Everything stored about one subject, per table: the answer to an access request."""
        return {
            table: self.storage.query(
                self._sql(sql.SUBJECT_ROWS, table), {"visitor_key": visitor_key}
            )
            for table in sql.SUBJECT_TABLES
        }

    def count_subject(self, visitor_key: str) -> dict[str, int]:
        """How many rows each table holds for one subject (duplicates not yet merged count once).

        In cluster mode every replica is asked by itself and a shard counts what its fullest
        replica holds, so zero means every replica confirmed; a replica that cannot be reached
        raises :class:`StorageUnavailable` (nothing is confirmed while it is down).
        """
        if self.storage.cluster:
            return {
                table: replicas.count_per_shard(
                    self.storage,
                    self._sql(sql.COUNT_SUBJECT_LOCAL, table),
                    {"visitor_key": visitor_key},
                )
                for table in sql.SUBJECT_TABLES
            }
        return {
            table: int(
                self.storage.query(
                    self._sql(sql.COUNT_SUBJECT, table), {"visitor_key": visitor_key}
                )[0]["n"]
            )
            for table in sql.SUBJECT_TABLES
        }

    def delete_subject(self, visitor_key: str, wait: bool = True) -> dict[str, int]:
        """Erase one subject from every table; returns the rows removed per table.

        Engines with lightweight DELETE hide the rows at once; older ones (18.16) run an
        ``ALTER TABLE ... DELETE`` mutation. With ``wait`` this returns only when no mutation
        is pending on those tables (polling ``system.mutations``, which every version has),
        else raises :class:`MutationTimeout`; in cluster mode, only when every replica of
        every shard holds none of the subject's rows. Physical removal of lightweight-deleted
        rows follows on merge or :meth:`compact`.
        """
        counts = self.count_subject(visitor_key)
        template = (
            sql.DELETE_SUBJECT_LIGHTWEIGHT
            if self.storage.features.lightweight_delete
            else sql.DELETE_SUBJECT_MUTATION
        )
        params = {"visitor_key": visitor_key}
        for table in sql.SUBJECT_TABLES:
            self._mutate(self._sql(template, table), params)
        if wait:
            for table in sql.SUBJECT_TABLES:
                self._wait(table, self._sql(sql.COUNT_SUBJECT_LOCAL, table), params)
        return counts

    def wait_for_mutations(self, table: str) -> None:
        """Block until the table has no unfinished mutation, or raise MutationTimeout.

        In cluster mode every replica is asked (a replica that is down counts as pending).
        """
        deadline = time.monotonic() + self.mutation_timeout
        local = sql.local_table(table, self.storage.cluster)
        params = {"database": self.storage.database, "table": local}
        if self.storage.cluster:
            replicas.wait_until_zero(
                self.storage, sql.PENDING_MUTATIONS, params, self.mutation_timeout
            )
            return
        while self.storage.query(sql.PENDING_MUTATIONS, params)[0]["n"]:
            if time.monotonic() >= deadline:
                raise MutationTimeout(
                    f"mutations on {table} still running after {self.mutation_timeout:.0f}s"
                )
            time.sleep(_POLL_SECONDS)

    def _mutate(self, statement: str, params: dict[str, Any]) -> None:
        """A delete on the one node, or on one replica of every shard in cluster mode."""
        if self.storage.cluster:
            replicas.mutate_each_shard(self.storage, statement, params)
        else:
            self.storage.command(statement, params)

    def _wait(self, table: str, count_local: str, params: dict[str, Any]) -> None:
        """Wait for a delete: the mutation on one node; the rows gone from every replica."""
        if self.storage.cluster:
            replicas.wait_until_zero(self.storage, count_local, params, self.mutation_timeout)
        else:
            self.wait_for_mutations(table)

    def save_privacy_request(self, row: PrivacyRequestRow) -> None:
        """Store a privacy request state; a row with a higher ``version`` supersedes older ones."""
        self.storage.insert(sql.PRIVACY_REQUESTS, [row.model_dump()])

    def get_privacy_request(self, request_id: str) -> PrivacyRequestRow | None:
        """The latest version of a privacy request, or None if it was never filed."""
        rows = self.storage.query(self._sql(sql.PRIVACY_REQUEST_LATEST), {"request_id": request_id})
        return PrivacyRequestRow.model_validate(rows[0]) if rows else None

    def save_api_key(self, row: ApiKeyRow) -> None:
        """Store an API key's hash and role (never the key itself)."""
        self.storage.insert(sql.API_KEYS, [row.model_dump()])

    def get_api_key(self, key_hash: str) -> ApiKeyRow | None:
        """The latest state of the key with this hash, or None."""
        rows = self.storage.query(self._sql(sql.API_KEY_BY_HASH), {"key_hash": key_hash})
        return ApiKeyRow.model_validate(rows[0]) if rows else None

    def revoke_api_key(self, key_id: str) -> bool:
        """Mark every key with this public id revoked; False when there is none."""
        rows = self.storage.query(self._sql(sql.API_KEY_BY_ID), {"key_id": key_id})
        for row in rows:
            key = ApiKeyRow.model_validate(row)
            update = {"revoked": True, "version": key.version + 1}
            self.storage.insert(sql.API_KEYS, [key.model_copy(update=update).model_dump()])
        return bool(rows)

    def set_api_key_role(self, key_id: str, role: ApiRole) -> bool:
        """Give every key with this public id a new role; False when there is none."""
        rows = self.storage.query(self._sql(sql.API_KEY_BY_ID), {"key_id": key_id})
        for row in rows:
            key = ApiKeyRow.model_validate(row)
            update = {"role": role, "version": key.version + 1}
            self.storage.insert(sql.API_KEYS, [key.model_copy(update=update).model_dump()])
        return bool(rows)

    def add_missing_columns(self, table: str) -> list[str]:
        """Append columns added to ``table`` since it was created; returns their names.

        ``Storage.migrate`` creates missing tables only, so a table from an older release
        gains new trailing columns here (existing rows read the type's default).
        """
        params = {"database": self.storage.database, "table": sql.check_table(table)}
        present = {row["name"] for row in self.storage.query(sql.TABLE_COLUMNS, params)}
        if not present:
            return []
        added = [name for name in sql.column_names(table) if name not in present]
        features = self.storage.features
        for name in added:
            for statement in sql.add_column(
                self.storage.database,
                table,
                name,
                low_cardinality=features.low_cardinality,
                datetime64=features.datetime64,
                cluster=self.storage.cluster,
            ):
                self.storage.command(statement)
        return added

    def count_rows(self, table: str, *, visible: bool = True) -> int:
        """Rows in a table: as queries see them (``FINAL``) or as stored, duplicates included."""
        template = sql.COUNT_ROWS_VISIBLE if visible else sql.COUNT_ROWS_STORED
        return int(self.storage.query(self._sql(template, table))[0]["n"])

    def compact(self, table: str) -> None:
        """Merge all parts now (``OPTIMIZE ... FINAL``): duplicates and deleted rows go for good."""
        statement = self._sql(sql.OPTIMIZE_FINAL, table)
        if not self.storage.cluster:
            self.storage.command(statement)
            return
        # The leader of each shard assigns the merge and the other replica copies the result.
        # OPTIMIZE does not wait for the replicas (18.16 fails that wait with "Unknown log
        # entry type" when there was nothing to merge); SYNC REPLICA waits instead.
        sync = self._sql(sql.SYNC_REPLICA, table)
        self.storage.on_every_replica(sync)
        params = {"database": self.storage.database, "table": sql.local_table(table, "c")}
        leaders = {
            answer.address
            for answer in self.storage.on_every_replica(sql.REPLICA_IS_LEADER, params)
            if answer.rows and answer.rows[0]["is_leader"]
        }
        no_wait = {"replication_alter_partitions_sync": 0}
        self.storage.on_every_replica(statement, only=leaders, settings=no_wait)
        self.storage.on_every_replica(sync)

    # --- keys listing, request lifecycle, legal holds, audit log, aggregates ---

    def list_api_keys(self) -> list[ApiKeyRow]:
        """Every key in its latest state (hashes and roles only), oldest first."""
        return [
            ApiKeyRow.model_validate(r) for r in self.storage.query(self._sql(sql.API_KEYS_ALL))
        ]

    def list_privacy_requests(self, limit: int = 1000) -> list[PrivacyRequestRow]:
        """The newest requests in their latest state, newest first."""
        rows = self.storage.query(self._sql(sql.PRIVACY_REQUESTS_ALL), {"limit": limit})
        return [PrivacyRequestRow.model_validate(r) for r in rows]

    def subject_requests(self, subject_key: str) -> list[PrivacyRequestRow]:
        """Every request about one subject in its latest state, oldest first."""
        rows = self.storage.query(
            self._sql(sql.PRIVACY_REQUESTS_OF_SUBJECT), {"subject_key": subject_key}
        )
        return [PrivacyRequestRow.model_validate(r) for r in rows]

    def get_legal_hold(self, subject_key: str) -> LegalHoldRow | None:
        """The latest hold state of a subject, or None if never held."""
        rows = self.storage.query(self._sql(sql.LEGAL_HOLD_LATEST), {"subject_key": subject_key})
        return LegalHoldRow.model_validate(rows[0]) if rows else None

    def save_legal_hold(self, row: LegalHoldRow) -> None:
        """Store a hold state; a higher ``version`` supersedes older ones."""
        self.storage.insert(sql.LEGAL_HOLDS, [row.model_dump()])

    def delete_older_than(self, table: str, cutoff: datetime, wait: bool = True) -> int:
        """Retention: remove a table's rows older than ``cutoff``; returns how many there were.

        Lightweight DELETE where the engine has it, else a mutation (waited for with ``wait``).
        """
        params = {"cutoff": cutoff}
        db, cluster = self.storage.database, self.storage.cluster
        count = sql.retention_statement(sql.COUNT_OLDER, db, table)
        count_local = sql.retention_statement(sql.COUNT_OLDER_LOCAL, db, table, cluster)
        old = int(self.storage.query(count, params)[0]["n"])
        if old:
            template = (
                sql.DELETE_OLDER_LIGHTWEIGHT
                if self.storage.features.lightweight_delete
                else sql.DELETE_OLDER_MUTATION
            )
            self._mutate(sql.retention_statement(template, db, table, cluster), params)
            if wait:
                self._wait(table, count_local, params)
        return old
