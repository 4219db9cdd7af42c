"""Kafka payloads: what the collector produces and the stream worker consumes.

Raw events carry the raw IP and visitor id; they live only on the short-retention raw topic
and are minimized by the worker before anything is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import ConsentChoices, Event

MESSAGE_SCHEMA_VERSION = 1


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RequestFacts(_Message):
    """What the collector learned from the HTTP request itself, not from the body."""

    ip: str = Field(description="Client IP from the socket or a trusted proxy; raw.")
    user_agent: str = ""
    gpc: bool = False
    dnt: bool = False


class RawEvent(_Message):
    """An accepted event with its request facts and server time, keyed by visitor id."""

    event: Event
    facts: RequestFacts
    received_at: datetime
    sent_at: datetime | None = None
    schema_version: int = MESSAGE_SCHEMA_VERSION


class ConsentDecision(_Message):
    """A recorded consent decision, keyed by visitor id on the compacted consent topic."""

    consent_id: str
    visitor_id: str
    choices: ConsentChoices
    policy_version: str
    policy_hash: str
    banner_hash: str
    source: str
    recorded_at: datetime
    gpc: bool
    dnt: bool
    gpc_applied: bool
    schema_version: int = MESSAGE_SCHEMA_VERSION


class PrivacyJob(_Message):
    """A verified privacy request handed to the stream worker to carry out."""

    request_id: str
    type: Literal["access", "portability", "deletion"]
    subject_key: str
    schema_version: int = MESSAGE_SCHEMA_VERSION
