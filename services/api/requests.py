"""Privacy request intake: record it, compute the deadline, hand verified work to the worker.

Pure functions over rows (no I/O): the routes load and store, these decide.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from schemas.events import VisitorId
from schemas.messages import PrivacyJob
from schemas.rows import PrivacyRequestRow, PrivacyRequestStatus, PrivacyRequestType

Jurisdiction = Literal["gdpr", "ccpa"]
OPEN_STATUSES = frozenset({"pending_verification", "verified", "running", "on_hold"})
LIMITED_TYPES = frozenset({"access", "portability"})


class Subject(BaseModel):
    """Who the request is about."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    visitor_id: VisitorId


class OnBehalf(BaseModel):
    """A request made for someone else: it waits for a privacy reviewer's approval."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    relationship: Literal["authorized_agent", "parent"] = Field(
        description="An authorized agent, or a parent for a minor."
    )
    evidence: str = Field(
        min_length=3,
        max_length=2000,
        description="What proves the authority (document reference); kept in the audit log.",
    )


class PrivacyRequestIn(BaseModel):
    """A data subject request as filed."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "access", "subject": {"visitor_id": "v_demo_0001"}},
                {
                    "type": "deletion",
                    "subject": {"visitor_id": "v_demo_0001"},
                    "jurisdiction": "ccpa",
                },
                {
                    "type": "portability",
                    "subject": {"visitor_id": "v_demo_0001"},
                    "on_behalf": {"relationship": "parent", "evidence": "case file PR-2026-7"},
                },
            ]
        },
    )
    type: PrivacyRequestType
    subject: Subject
    jurisdiction: Jurisdiction = Field(
        "gdpr", description="Sets the deadline: gdpr one month (30 days), ccpa 45 days."
    )
    on_behalf: OnBehalf | None = Field(
        None, description="Set for an agent or parent: filed pending_verification."
    )


class SelfServiceIn(BaseModel):
    """A request by the visitor, proven by the signed visitor token the collector issued."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"type": "access", "visitor_token": "dmlzaXRvci10b2tlbg.c2lnbmF0dXJl"}]
        },
    )
    type: PrivacyRequestType
    visitor_token: str = Field(min_length=1, max_length=1000)
    jurisdiction: Jurisdiction = "gdpr"


class Decision(BaseModel):
    """A reviewer's approval or rejection of a request pending verification."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "agent mandate checked against ID"}]},
    )
    reason: str = Field(min_length=3, max_length=500, description="Kept in the audit log.")


class PrivacyRequestFiled(BaseModel):
    """The answer to a filed request."""

    request_id: str
    status: PrivacyRequestStatus


class PrivacyRequestOut(BaseModel):
    """A request's state; ``result`` is set once it is done."""

    request_id: str
    type: PrivacyRequestType
    status: PrivacyRequestStatus
    created_at: datetime
    updated_at: datetime
    deadline: datetime
    due_soon: bool = Field(description="Still open and within the reminder window of its deadline.")
    result: Annotated[dict[str, Any] | None, Field(description="Access report or receipt.")]


class PrivacyRequestList(BaseModel):
    """Requests, newest first, without their results (those are read one at a time)."""

    requests: list[PrivacyRequestOut]


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
    return PrivacyRequestOut(
        request_id=row.request_id,
        type=row.type,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deadline=row.deadline,
        due_soon=is_due_soon(row, window_days, datetime.now(UTC)),
        result=orjson.loads(row.result) if row.result and with_result else None,
    )


def with_status(row: PrivacyRequestRow, status: PrivacyRequestStatus) -> PrivacyRequestRow:
    """The next version of a request, in a new status."""
    update = {"status": status, "updated_at": datetime.now(UTC), "version": row.version + 1}
    return row.model_copy(update=update)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula (OWASP CSV injection)."""


def inert_cell(text: str) -> str:
    """``text`` as a cell no spreadsheet runs: a leading formula character gets a ``'`` first.

    Page titles, URLs and props are typed by visitors (or anyone posting events), so a title
    ``=HYPERLINK(...)`` would otherwise become a live formula in the privacy team's spreadsheet.
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_csv(data: dict[str, list[dict[str, Any]]]) -> str:
    """Portability as one CSV in long form (table, row, field, value): any reader can load it.

    Every text cell is made inert (:func:`inert_cell`); numbers are written as they are.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["table", "row", "field", "value"])
    for table, rows in data.items():
        for index, row in enumerate(rows, start=1):
            for field, value in row.items():
                number = isinstance(value, int | float) and not isinstance(value, bool)
                text = value if isinstance(value, str) else orjson.dumps(value).decode()
                cell = text if number else inert_cell(text)
                writer.writerow([inert_cell(table), index, inert_cell(field), cell])
    return out.getvalue()
