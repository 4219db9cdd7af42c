"""Privacy request intake: record it, compute the deadline, hand verified work to the worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from consentstream.identity import pseudonymize
from schemas.events import VisitorId
from schemas.messages import PrivacyJob
from schemas.rows import PrivacyRequestRow, PrivacyRequestStatus, PrivacyRequestType


class Subject(BaseModel):
    """Who the request is about."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    visitor_id: VisitorId


class PrivacyRequestIn(BaseModel):
    """A data subject request as filed."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"type": "access", "subject": {"visitor_id": "v_demo_0001"}}]
        },
    )
    type: PrivacyRequestType
    subject: Subject


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
    result: Annotated[dict[str, Any] | None, Field(description="Access report or receipt.")]


def new_request(
    body: PrivacyRequestIn, key: str, deadline_days: int, status: Literal["verified"]
) -> PrivacyRequestRow:
    """A fresh request row for a request filed by the privacy team (pre-verified)."""
    now = datetime.now(UTC)
    return PrivacyRequestRow(
        request_id=uuid.uuid4().hex,
        type=body.type,
        subject_key=pseudonymize(body.subject.visitor_id, key),
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


def view(row: PrivacyRequestRow) -> PrivacyRequestOut:
    """The public view of a request."""
    return PrivacyRequestOut(
        request_id=row.request_id,
        type=row.type,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deadline=row.deadline,
        result=orjson.loads(row.result) if row.result else None,
    )
