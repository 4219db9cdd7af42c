"""Rules of privacy casework as pure functions over rows (no I/O): the service decides with them.

Deadlines per jurisdiction, the yearly access limit, one open request per type, due-soon
flags and status changes; the service (:mod:`.casework`) loads and stores around them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from consentstream.webhooks import processors_overdue
from schemas.messages import PrivacyJob
from schemas.rows import PrivacyRequestRow, PrivacyRequestStatus, PrivacyRequestType

from .models import Jurisdiction, PrivacyRequestOut

OPEN_STATUSES = frozenset({"pending_verification", "verified", "running", "on_hold"})
LIMITED_TYPES = frozenset({"access", "portability"})


@dataclass(frozen=True)
class Policy:
    """The deployment's casework rules: deadlines per jurisdiction, limits, reminders."""

    gdpr_deadline_days: int = 30
    ccpa_deadline_days: int = 45
    access_requests_per_year: int = 2
    due_soon_days: int = 7

    def deadline_days(self, jurisdiction: Jurisdiction) -> int:
        """Days to answer a request filed under ``jurisdiction``."""
        return self.ccpa_deadline_days if jurisdiction == "ccpa" else self.gdpr_deadline_days


def new_request(
    kind: PrivacyRequestType,
    subject_key: str,
    deadline_days: int,
    status: PrivacyRequestStatus,
    now: datetime | None = None,
) -> PrivacyRequestRow:
    """A fresh request row; its deadline runs from filing."""
    now = now or datetime.now(UTC)
    return PrivacyRequestRow(
        request_id=uuid.uuid4().hex,
        type=kind,
        subject_key=subject_key,
        status=status,
        created_at=now,
        updated_at=now,
        deadline=now + timedelta(days=deadline_days),
        result="",
        version=1,
    )


def job_of(row: PrivacyRequestRow) -> PrivacyJob:
    """The Kafka job that makes the worker carry the request out."""
    return PrivacyJob(request_id=row.request_id, type=row.type, subject_key=row.subject_key)


def one_year_after(moment: datetime) -> datetime:
    """The same calendar moment a year later (29 February becomes 1 March)."""
    try:
        return moment.replace(year=moment.year + 1)
    except ValueError:
        return moment.replace(year=moment.year + 1, month=3, day=1)


def next_allowed(
    earlier: Sequence[PrivacyRequestRow], limit: int, now: datetime
) -> datetime | None:
    """When a subject may next file an access/portability request, or None if they may now.

    Counts the subject's access and portability requests (rejected ones excepted) filed in the
    rolling 12 months before ``now``; at ``limit`` the next is allowed a year after the oldest
    of the ``limit`` most recent ones.
    """
    recent = sorted(
        r.created_at
        for r in earlier
        if r.type in LIMITED_TYPES and r.status != "rejected" and one_year_after(r.created_at) > now
    )
    if len(recent) < limit:
        return None
    return one_year_after(recent[-limit])


def open_request(
    earlier: Sequence[PrivacyRequestRow], kind: PrivacyRequestType
) -> PrivacyRequestRow | None:
    """The subject's open request of this type (the newest), if any: a repeat answers with it."""
    same = [r for r in earlier if r.type == kind and r.status in OPEN_STATUSES]
    return max(same, key=lambda r: r.created_at) if same else None


def is_due_soon(row: PrivacyRequestRow, window_days: int, now: datetime) -> bool:
    """An open request whose deadline falls within the reminder window (or has passed)."""
    return row.status in OPEN_STATUSES and row.deadline - now <= timedelta(days=window_days)


def view(
    row: PrivacyRequestRow, window_days: int, *, with_result: bool = True
) -> PrivacyRequestOut:
    """The public view of a request."""
    now = datetime.now(UTC)
    return PrivacyRequestOut(
        request_id=row.request_id,
        type=row.type,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deadline=row.deadline,
        due_soon=is_due_soon(row, window_days, now),
        processors_overdue=overdue_processors(row, now),
        result=orjson.loads(row.result) if row.result and with_result else None,
    )


def overdue_processors(row: PrivacyRequestRow, now: datetime) -> list[str]:
    """Processors a done deletion directed to delete that have not confirmed in time."""
    if row.type != "deletion" or row.status != "done" or not row.result:
        return []
    try:
        return processors_overdue(orjson.loads(row.result), now)
    except (orjson.JSONDecodeError, ValueError):  # a receipt older than the section
        return []


def with_status(row: PrivacyRequestRow, status: PrivacyRequestStatus) -> PrivacyRequestRow:
    """The next version of a request, in a new status."""
    update = {"status": status, "updated_at": datetime.now(UTC), "version": row.version + 1}
    return row.model_copy(update=update)
