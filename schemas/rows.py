"""ClickHouse row models: what the stream worker writes and the API reads.

Rows hold only minimized data, so no row names a person directly: a keyed pseudonym instead of
the visitor id, an IP prefix instead of the IP, a browser family instead of the user agent, a
URL without its query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

ROW_SCHEMA_VERSION = 1


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UsageEventRow(_Row):
    """One minimized usage event, carrying the consent it was collected under."""

    event_id: UUID
    type: str
    ts: datetime = Field(description="Event time, corrected for client clock skew (UTC).")
    client_ts: datetime = Field(description="Event time as the client reported it (UTC).")
    received_at: datetime = Field(description="When the collector accepted the event (UTC).")
    visitor_key: str = Field(description="Keyed HMAC pseudonym of the visitor; '' if anonymous.")
    consent_id: str = Field(description="Consent decision in force; '' when none (fail closed).")
    purposes: list[str] = Field(description="Purposes granted by that decision.")
    policy_version: str
    ip_prefix: str = Field(description="Truncated IP (IPv4 /24, IPv6 /48); '' when not kept.")
    page_path: str
    page_url: str = Field(description="URL without query (bar allowlisted utm_*) or fragment.")
    page_title: str
    referrer_host: str
    browser_family: str
    browser_version: str
    os_family: str
    device_class: str
    language: str
    screen: str
    timezone: str
    props: str = Field(description="Small flat map, JSON-encoded.")
    gpc: bool
    dnt: bool
    schema_version: int = ROW_SCHEMA_VERSION
    anon_hash: str = Field(
        "", description="Anonymous rows: daily salted visitor hash for unique counts, else ''."
    )


USAGE_EVENT_FIELDS: tuple[str, ...] = tuple(UsageEventRow.model_fields)
"""The usage row's fields in order: the ``usage_events`` columns, and :data:`UsageEventValues`."""

USAGE_EVENT_ID = USAGE_EVENT_FIELDS.index("event_id")
"""Where a usage row's event id is among its cells."""

UsageEventValues = tuple[Any, ...]
"""A :class:`UsageEventRow`'s values in :data:`USAGE_EVENT_FIELDS` order, as the worker builds
them: the same cells, without a model per event (the insert reads them column by column)."""


class ConsentLedgerRow(_Row):
    """One consent decision as recorded: proof of what the visitor chose, when, under what."""

    consent_id: str
    visitor_key: str
    recorded_at: datetime
    necessary: bool
    analytics: bool
    marketing: bool
    preferences: bool
    policy_version: str
    policy_hash: str
    banner_hash: str
    source: str
    gpc: bool
    dnt: bool
    gpc_applied: bool = Field(description="Marketing was forced off because of Sec-GPC: 1.")
    schema_version: int = ROW_SCHEMA_VERSION


PrivacyRequestType = Literal["access", "portability", "deletion"]
PrivacyRequestStatus = Literal[
    "pending_verification", "verified", "running", "done", "on_hold", "rejected", "failed"
]


class PrivacyRequestRow(_Row):
    """A data subject request; each status change writes a new row with a higher ``version``."""

    request_id: str
    type: PrivacyRequestType
    subject_key: str = Field(description="Keyed pseudonym of the subject's visitor id.")
    status: PrivacyRequestStatus
    created_at: datetime
    updated_at: datetime
    deadline: datetime
    result: str = Field(description="JSON result: the access report or the deletion receipt.")
    version: int
    schema_version: int = ROW_SCHEMA_VERSION


ApiRole = Literal["marketing", "privacy", "admin"]


class ApiKeyRow(_Row):
    """An API key, stored only as its SHA-256 hash, with its role; revocation is a new version."""

    key_hash: str
    key_id: str = Field(description="Short public prefix that names the key in listings.")
    role: ApiRole
    created_at: datetime
    revoked: bool = False
    version: int = 1
    schema_version: int = ROW_SCHEMA_VERSION


class AuditRow(_Row):
    """One audit log entry; ``hash`` covers every other field and the previous entry's hash."""

    seq: int = Field(description="Position in the chain, from 1, without gaps.")
    at: datetime = Field(description="When it happened (UTC, whole seconds).")
    actor: str = Field(description="The API key id (or 'cli') that acted.")
    role: str
    action: str = Field(description="e.g. request.read, request.export, hold.set.")
    target: str = Field(description="The subject's pseudonym, never a raw visitor id.")
    detail: str = Field(description="Canonical JSON with the action's particulars.")
    prev_hash: str
    hash: str
    schema_version: int = ROW_SCHEMA_VERSION


class LegalHoldRow(_Row):
    """A legal hold on a subject's data; lifting it writes a new version with ``held`` false."""

    subject_key: str
    held: bool
    reason: str
    actor: str
    at: datetime
    version: int
    schema_version: int = ROW_SCHEMA_VERSION


class CookieObservationRow(_Row):
    """A cookie seen on a page by one worker batch: the privacy team's compliance signal.

    No visitor data: the page path and the cookie's name only, never its value.
    """

    page_path: str
    cookie_name: str
    declared_category: str = Field(description="From the cookie catalogue; 'unknown' if absent.")
    reported_category: str = Field(description="The category the snippet reported.")
    known: bool = Field(description="The cookie is in the catalogue.")
    first_seen: datetime
    last_seen: datetime
    seen_before_consent: bool = Field(
        description="Seen while the consent in force did not grant its category (unknown: any)."
    )
    schema_version: int = ROW_SCHEMA_VERSION


class UsageAnswerRow(_Row):
    """One row of a k-anonymous usage answer for a closed bucket (aggregates only)."""

    bucket_size: str = Field(description="The interval: hour, day or week.")
    dimension: str
    k: int
    bucket: datetime
    row_kind: Literal["group", "other", "done"] = Field(
        description="A shown group, the bucket's folded other, or the bucket-complete marker."
    )
    key: str
    visitors: int
    pageviews: int
    computed_at: datetime
    schema_version: int = ROW_SCHEMA_VERSION


class UsageLeadRow(_Row):
    """One lead row of a stored bucket's usage answer: what a top-N answer reads of it."""

    bucket_size: str = Field(description="The interval: hour, day or week.")
    dimension: str
    k: int
    bucket: datetime
    row_kind: Literal["lead", "edge", "shown", "other", "done"] = Field(
        description="One of the bucket's biggest shown groups, the page views of the biggest"
        " one left out, the sum of its shown groups, its folded other, or the complete marker."
    )
    key: str
    visitors: int
    pageviews: int
    computed_at: datetime
    schema_version: int = ROW_SCHEMA_VERSION


ProcessorDeliveryStatus = Literal["pending", "confirmed", "failed"]


class ProcessorDeliveryRow(_Row):
    """The state of one deletion request sent to one service provider; each change is a new
    row with a higher ``version`` (the request record's companion, kept as long as it is)."""

    request_id: str
    processor: str = Field(description="The processor's name in the data map.")
    delivery_id: str = Field(description="Unique id of this delivery, the same on every retry.")
    subject_key: str = Field(description="Keyed pseudonym of the subject, as sent.")
    status: ProcessorDeliveryStatus
    attempts: int = Field(ge=0)
    last_error: str = Field(description="Why the last attempt was not a confirmation; ''.")
    processor_ref: str = Field(description="The processor's own reference from its answer; ''.")
    created_at: datetime
    updated_at: datetime = Field(description="When the status last changed (confirmed_at).")
    next_attempt_at: datetime
    confirm_by: datetime = Field(description="Unconfirmed after this, the request is flagged.")
    version: int
    schema_version: int = ROW_SCHEMA_VERSION


class ConsentAnswerRow(_Row):
    """One row of a consent panel's figures for a closed bucket (counts only, no visitor)."""

    bucket_size: str = Field(description="The interval: hour, day or week.")
    panel: Literal["rates", "versions"] = Field(
        description="Consent rates per bucket, or per policy version and banner per bucket."
    )
    bucket: datetime
    row_kind: Literal["row", "done"] = Field(
        description="A row of figures, or the bucket-complete marker."
    )
    version: str = Field(description="The policy version ('' on the rates panel).")
    banner: str = Field(description="The banner hash ('' on the rates panel).")
    visitors: int = Field(description="Distinct deciders (an anonymous decision is one).")
    decisions: int
    analytics: int
    marketing: int
    preferences: int
    refused: int
    computed_at: datetime
    schema_version: int = ROW_SCHEMA_VERSION
