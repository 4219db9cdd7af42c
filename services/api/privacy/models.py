"""The privacy API's HTTP bodies: what staff and visitors send, and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from schemas.events import VisitorId
from schemas.rows import PrivacyRequestStatus, PrivacyRequestType

Jurisdiction = Literal["gdpr", "ccpa"]


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
    processors_overdue: list[str] = Field(
        default_factory=list,
        description="A done deletion: service providers that have not confirmed deleting the"
        " subject's data in time (the receipt's `processors` section says why); empty: none.",
    )
    result: Annotated[
        dict[str, Any] | None,
        Field(
            description="Access report; for a deletion the signed receipt"
            " (`receipt`, `signature`, `key_id`, `algorithm`), checked with"
            " `GET /v1/receipts/public-key` or `POST /v1/receipts/verify`."
        ),
    ]


class PrivacyRequestList(BaseModel):
    """Requests, newest first, without their results (those are read one at a time)."""

    requests: list[PrivacyRequestOut]


class HoldIn(BaseModel):
    """Set or lift a legal hold on a subject."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": {"visitor_id": "v_demo_0001"},
                    "held": True,
                    "reason": "litigation 2026-17",
                }
            ]
        },
    )
    subject: Subject
    # StrictBool: JSON true or false only; lax pydantic would read 0 or "no" as lifting a hold.
    held: StrictBool = Field(description="true sets the hold, false lifts it.")
    reason: str = Field(min_length=3, max_length=500, description="Why; kept in the audit log.")


class HoldOut(BaseModel):
    """The hold state after the change, and the deletions it stopped or released."""

    held: bool
    held_requests: list[str] = Field(description="Queued deletions stopped by setting the hold.")
    released_requests: list[str] = Field(description="Held deletions released by lifting it.")
