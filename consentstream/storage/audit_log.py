"""Reads and appends of the audit log: the part of :class:`Repository` the audit chain and the
privacy console need. Views read only the entries they show, so a page costs the same however
long the log has grown.
"""

from __future__ import annotations

from typing import Any

from consentstream.storage import sql
from consentstream.storage.base import Storage
from schemas.rows import AuditRow


class AuditTable:
    """The audit log of one storage: append, the head, and filtered reads in chain order."""

    storage: Storage

    def _sql(self, template: str, table: str | None = None) -> str:
        return sql.statement(template, self.storage.database, table, self.storage.cluster)

    def last_audit(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the newest audit entry, or None for an empty log."""
        rows = self.storage.query(self._sql(sql.AUDIT_LAST))
        return (int(rows[0]["seq"]), str(rows[0]["hash"])) if rows else None

    def append_audit(self, row: AuditRow) -> None:
        """Append one audit entry (the caller chains and serialises appends)."""
        self.storage.insert(sql.AUDIT_LOG, [row.model_dump()])

    def audit_entries(self) -> list[AuditRow]:
        """The whole audit log in chain order, as stored (duplicates included)."""
        return self._audit(sql.AUDIT_ALL)

    def audit_of_action(self, action: str) -> list[AuditRow]:
        """The audit entries of one action (e.g. every ``request.file``), in chain order."""
        return self._audit(sql.AUDIT_OF_ACTION, {"action": action})

    def audit_of_request(self, request_id: str) -> list[AuditRow]:
        """The audit entries whose detail names ``request_id``, in chain order."""
        return self._audit(sql.AUDIT_OF_REQUEST, {"request_id": request_id})

    def audit_count(self) -> int:
        """How many entries the audit log holds."""
        return int(self.storage.query(self._sql(sql.AUDIT_COUNT))[0]["n"])

    def _audit(self, query: str, params: dict[str, Any] | None = None) -> list[AuditRow]:
        rows = self.storage.query(self._sql(query), params or {})
        return [AuditRow.model_validate(r) for r in rows]
