"""Kafka payloads: what the collector produces and the stream worker consumes.

Raw events carry the raw IP and visitor id; they live only on the short-retention raw topic,
sealed (:class:`SealedMessage`) under their subject's data key, and are minimized by the worker
before anything is stored.

The collector produces one :class:`RawBatch` per (request, visitor key): Kafka and Faust cost
per message, not per byte, so a 50-event request is one message instead of fifty.
:class:`RawEvent` is one event with its request's facts: the unit the worker's pipeline runs
on, and what the collector produced before batches (the worker still reads those, so a rolling
upgrade or a replayed dead letter loses nothing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import MAX_BATCH_EVENTS, ConsentChoices, Event
from schemas.trusted import trusted

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


class RawBatch(_Message):
    """Accepted events of one request that share a Kafka key (a visitor, or all anonymous ones).

    Every event keeps the request's facts and server time; the worker splits the batch into
    :class:`RawEvent` s. At most a request's worth of events, so far below Kafka's message size.
    """

    events: list[Event] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)
    facts: RequestFacts
    received_at: datetime
    sent_at: datetime | None = None
    schema_version: int = MESSAGE_SCHEMA_VERSION

    def raw_events(self) -> list[RawEvent]:
        """One :class:`RawEvent` per event, sharing facts and times (already validated)."""
        return [
            trusted(
                RawEvent,
                {
                    "event": event,
                    "facts": self.facts,
                    "received_at": self.received_at,
                    "sent_at": self.sent_at,
                    "schema_version": self.schema_version,
                },
            )
            for event in self.events
        ]


class ConsentDecision(_Message):
    """A recorded consent decision, keyed by visitor id on the compacted consent topic.

    An anonymous decision (analytics refused, no visitor id) has ``visitor_id`` None and is
    keyed by its consent id: it belongs in the ledger and the consent rates, but to no one.
    """

    consent_id: str
    visitor_id: str | None
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


SEALED_SCHEMA_VERSION = 2


class SealedMessage(_Message):
    """The text form of a message sealed under its subject's data key (dead-letter topic).

    ``sealed`` is base64 of ``nonce || AES-GCM ciphertext || tag`` of the message it replaces
    (a :class:`RawBatch`, :class:`RawEvent` or :class:`ConsentDecision` document), with
    ``subject`` as associated data. Once the subject's key is destroyed it never opens again.
    The raw and consent topics carry the same in binary (``consentstream.sealing``).
    """

    subject: str = Field(description="The visitor's pseudonym, or a rotating anonymous subject.")
    sealed: str
    schema_version: int = SEALED_SCHEMA_VERSION


class PrivacyJob(_Message):
    """A verified privacy request handed to the stream worker to carry out."""

    request_id: str
    type: Literal["access", "portability", "deletion"]
    subject_key: str
    schema_version: int = MESSAGE_SCHEMA_VERSION
