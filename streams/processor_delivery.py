"""The pure rules of a deletion sent to a processor: what an answer means, when to try again.

Plain functions over :class:`ProcessorDeliveryRow`, unit-tested without I/O; the HTTP calls and
the schedule that drives them are in :mod:`streams.processors`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.rows import ProcessorDeliveryRow

# Answers worth trying again: the processor is busy, restarting or asked us to come back.
RETRY_STATUSES = frozenset({408, 425, 429})
REFERENCE_MAX = 200


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Timeouts and the retry schedule (from the worker's settings)."""

    first_timeout: float
    timeout: float
    retry_base: float
    retry_max: float
    max_attempts: int
    confirm_window: timedelta


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: confirmed, worth retrying, or refused for good."""

    confirmed: bool
    retry: bool
    error: str = ""
    reference: str = ""


def new_delivery(
    request_id: str,
    processor: str,
    subject_key: str,
    now: datetime,
    deadline: datetime,
    policy: DeliveryPolicy,
) -> ProcessorDeliveryRow:
    """A delivery not tried yet, due now, to be confirmed within the window or the deadline.

    The request's own statutory deadline caps the window: a processor still silent then is
    flagged even if the window is longer.
    """
    return ProcessorDeliveryRow(
        request_id=request_id,
        processor=processor,
        delivery_id=uuid.uuid4().hex,
        subject_key=subject_key,
        status="pending",
        attempts=0,
        last_error="",
        processor_ref="",
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
        confirm_by=min(now + policy.confirm_window, deadline),
        version=1,
    )


def reference_of(body: Any) -> str:
    """The processor's own reference from a JSON answer, if it gave a sane one."""
    reference = body.get("reference") if isinstance(body, dict) else None
    if isinstance(reference, str) and reference.isprintable():
        return reference[:REFERENCE_MAX]
    return ""


def classify(status: int, body: Any) -> Outcome:
    """What an HTTP answer means: any 2xx confirms; busy and server errors are retried.

    Any other answer (a redirect, 400, 401, 404, ...) is refused the same way on every try,
    so it is not retried: the operator fixes the data map or the secret.
    """
    if 200 <= status < 300:
        return Outcome(confirmed=True, retry=False, reference=reference_of(body))
    if status in RETRY_STATUSES or status >= 500:
        return Outcome(confirmed=False, retry=True, error=f"HTTP {status}")
    return Outcome(confirmed=False, retry=False, error=f"HTTP {status}, not retried")


def backoff(attempts: int, policy: DeliveryPolicy, rng: random.Random) -> float:
    """Seconds before the next try: doubling from the base, capped, with jitter.

    Half the delay is fixed and half random ("equal jitter"), so many deliveries failing at
    once do not come back at once, yet none comes back much sooner than planned.
    """
    delay: float = min(policy.retry_max, policy.retry_base * 2.0 ** max(0, attempts - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


def advance(
    row: ProcessorDeliveryRow,
    outcome: Outcome,
    now: datetime,
    policy: DeliveryPolicy,
    rng: random.Random,
) -> ProcessorDeliveryRow:
    """The delivery's next state after one attempt."""
    attempts = row.attempts + 1
    status = row.status
    next_at = row.next_attempt_at
    error = outcome.error
    if outcome.confirmed:
        status, error = "confirmed", ""
    elif not outcome.retry:
        status = "failed"
    elif attempts >= policy.max_attempts:
        status, error = "failed", f"gave up after {attempts} attempts: {outcome.error}"
    else:
        next_at = now + timedelta(seconds=backoff(attempts, policy, rng))
    return row.model_copy(
        update={
            "status": status,
            "attempts": attempts,
            "last_error": error,
            "processor_ref": outcome.reference or row.processor_ref,
            "updated_at": now if status != row.status else row.updated_at,
            "next_attempt_at": next_at,
            "version": row.version + 1,
        }
    )


def receipt_entry(row: ProcessorDeliveryRow) -> dict[str, Any]:
    """One processor's line in the receipt's ``processors`` section."""
    return {
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error or None,
        "confirmed_at": row.updated_at.isoformat() if row.status == "confirmed" else None,
        "reference": row.processor_ref or None,
        "delivery_id": row.delivery_id,
        "confirm_by": row.confirm_by.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat() if row.status == "pending" else None,
    }


def receipt_section(rows: list[ProcessorDeliveryRow]) -> dict[str, dict[str, Any]]:
    """The receipt's ``processors`` section: each processor's delivery, by name."""
    return {row.processor: receipt_entry(row) for row in sorted(rows, key=lambda r: r.processor)}
