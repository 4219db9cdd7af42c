"""The privacy console's plain data: who filed each request, deadlines, cookie compliance.

No I/O: the console loads audit entries, requests and cookie observations and these sort them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson

from schemas.rows import AuditRow, CookieObservationRow

from ..requests import OPEN_STATUSES, PrivacyRequestOut


@dataclass(frozen=True)
class Filing:
    """How a request came in: who filed it and, for an agent or parent, the evidence."""

    subject_kind: str
    actor: str
    evidence: str = ""


def filings(entries: list[AuditRow]) -> dict[str, Filing]:
    """Per request id, its filing as the audit log recorded it (``request.file`` entries)."""
    out: dict[str, Filing] = {}
    for entry in entries:
        if entry.action != "request.file":
            continue
        detail = orjson.loads(entry.detail)
        relationship = detail.get("relationship")
        if relationship:
            kind = relationship.replace("_", " ")
        elif entry.role == "subject":
            kind = "visitor (self-service)"
        else:
            kind = "visitor (staff-verified)"
        out[str(detail.get("request_id"))] = Filing(kind, entry.actor, detail.get("evidence", ""))
    return out


def urgency(request: PrivacyRequestOut, now: datetime | None = None) -> str:
    """'overdue', 'due-soon' or '' for the queue's highlighting (open requests only)."""
    now = now or datetime.now(UTC)
    if request.status not in OPEN_STATUSES:
        return ""
    if request.deadline < now:
        return "overdue"
    return "due-soon" if request.due_soon else ""


def decisions(entries: list[AuditRow], request_id: str) -> list[tuple[AuditRow, dict[str, str]]]:
    """The audit trail of one request (filing, approval, reads, exports), oldest first."""
    out = []
    for entry in entries:
        detail = orjson.loads(entry.detail)
        if detail.get("request_id") == request_id:
            out.append((entry, {k: str(v) for k, v in detail.items()}))
    return out


@dataclass(frozen=True)
class CookieFinding:
    """A compliance problem on one page and day: a cookie before consent or not catalogued."""

    day: date
    page_path: str
    cookie_name: str
    category: str
    before_consent: bool
    uncatalogued: bool


def cookie_findings(rows: list[CookieObservationRow], days: int = 30) -> list[CookieFinding]:
    """Problems of the last ``days`` days by page and day (the day a cookie was last seen)."""
    since = datetime.now(UTC) - timedelta(days=days)
    out = [
        CookieFinding(
            day=row.last_seen.astimezone(UTC).date(),
            page_path=row.page_path,
            cookie_name=row.cookie_name,
            category=row.declared_category if row.known else row.reported_category,
            before_consent=row.seen_before_consent,
            uncatalogued=not row.known,
        )
        for row in rows
        if (row.seen_before_consent or not row.known) and row.last_seen.astimezone(UTC) >= since
    ]
    return sorted(out, key=lambda f: (f.day, f.page_path, f.cookie_name), reverse=True)
