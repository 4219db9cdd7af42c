"""Privacy casework shared by the API routes and the CLI: intake, legal holds, audited reads.

Holds and the worker: the API checks a subject's hold before handing a deletion to the worker
(a held deletion is stored ``on_hold`` and no job is produced); lifting the hold moves each
held deletion back to ``verified`` and produces its job. A hold set after a job was produced
does not stop that job (the worker does not re-check holds).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from consentstream.audit import AuditLog
from consentstream.kafka import EventProducer
from consentstream.storage.repository import Repository
from consentstream.topics import Topics
from schemas.rows import (
    LegalHoldRow,
    PrivacyRequestRow,
    PrivacyRequestStatus,
    PrivacyRequestType,
)

from . import requests
from .datamap import DataMap, access_report
from .errors import Conflict, TooManyRequests


@dataclass(frozen=True)
class Actor:
    """Who acts: an API key's id and role, or the CLI operator."""

    key_id: str
    role: str


def result_with_report(
    repo: Repository, data_map: DataMap, row: PrivacyRequestRow
) -> dict[str, Any] | None:
    """The stored result; for a done access or portability request with the report merged in.

    The report is built at read time from the data map, so it always states current purposes,
    recipients and retention; the subject's own privacy requests are added to the data.
    """
    if not row.result:
        return None
    result: dict[str, Any] = orjson.loads(row.result)
    if row.type != "deletion" and row.status == "done":
        data = result.setdefault("data", {})
        data["privacy_requests"] = [
            {
                "request_id": r.request_id,
                "type": r.type,
                "status": r.status,
                "created_at": r.created_at.isoformat(),
                "deadline": r.deadline.isoformat(),
            }
            for r in repo.subject_requests(row.subject_key)
        ]
        result["report"] = access_report(data_map, data)
    return result


@dataclass(frozen=True)
class Filing:
    """The request a filing answers with, and whether it was filed now (else it was open)."""

    row: PrivacyRequestRow
    new: bool


CLI_ACTOR = Actor("cli", "admin")
SELF_SERVICE = Actor("self-service", "subject")


@dataclass
class Casework:
    """The stores and the job topic a privacy operation needs."""

    repo: Repository
    audit: AuditLog
    producer: EventProducer
    topics: Topics

    async def record(self, actor: Actor, action: str, target: str, detail: dict[str, Any]) -> None:
        """Append to the audit log before the data leaves: no unaudited per-visitor read."""
        await asyncio.to_thread(self.audit.append, actor.key_id, actor.role, action, target, detail)

    async def dispatch(self, row: PrivacyRequestRow) -> None:
        """Hand a verified request to the worker through the privacy jobs topic."""
        job = requests.job_of(row)
        await self.producer.send_all(
            self.topics.privacy_jobs, [(row.subject_key.encode(), job.model_dump_json().encode())]
        )

    async def file(
        self,
        actor: Actor,
        kind: PrivacyRequestType,
        subject: str,
        deadline_days: int,
        limit: int,
        detail: dict[str, Any],
        pending: bool = False,
    ) -> PrivacyRequestRow:
        """The request as :meth:`file_once` files it, or the open one it answers with."""
        filing = await self.file_once(actor, kind, subject, deadline_days, limit, detail, pending)
        return filing.row

    async def file_once(
        self,
        actor: Actor,
        kind: PrivacyRequestType,
        subject: str,
        deadline_days: int,
        limit: int,
        detail: dict[str, Any],
        pending: bool = False,
    ) -> Filing:
        """File a request unless one of its type is open for the subject (then answer with it).

        A new one is checked against the 12-month limit and holds, audited, stored and handed
        to the worker. Callers serialise calls per subject (the API holds a lock) so two
        requests cannot both pass the checks.
        """
        earlier = await asyncio.to_thread(self.repo.subject_requests, subject)
        existing = requests.open_request(earlier, kind)
        if existing is not None:
            return Filing(existing, new=False)
        if kind in requests.LIMITED_TYPES:
            self._check_limit(earlier, limit)
        held = kind == "deletion" and await self.is_held(subject)
        status: PrivacyRequestStatus = (
            "pending_verification" if pending else "on_hold" if held else "verified"
        )
        row = requests.new_request(kind, subject, deadline_days, status)
        detail = {**detail, "request_id": row.request_id, "type": kind, "status": status}
        await self.record(actor, "request.file", subject, detail)
        await asyncio.to_thread(self.repo.save_privacy_request, row)
        if status == "verified":
            await self.dispatch(row)
        return Filing(row, new=True)

    @staticmethod
    def _check_limit(earlier: list[PrivacyRequestRow], limit: int) -> None:
        allowed = requests.next_allowed(earlier, limit, datetime.now(UTC))
        if allowed is not None:
            raise TooManyRequests(
                f"at most {limit} access or portability requests in 12 months;"
                f" the next is allowed from {allowed.date().isoformat()}",
                next_allowed_at=allowed.isoformat(),
            )

    async def is_held(self, subject_key: str) -> bool:
        """Whether a legal hold is in force on the subject."""
        hold = await asyncio.to_thread(self.repo.get_legal_hold, subject_key)
        return bool(hold and hold.held)

    async def set_hold(self, actor: Actor, subject_key: str, held: bool, reason: str) -> list[str]:
        """Set or lift a hold; returns the deletions it stopped (set) or released (lift).

        Setting also stops deletions still queued (``verified``): the worker skips a job whose
        request is ``on_hold`` when it reaches it. One already ``running`` finishes.
        """
        current = await asyncio.to_thread(self.repo.get_legal_hold, subject_key)
        row = LegalHoldRow(
            subject_key=subject_key,
            held=held,
            reason=reason,
            actor=actor.key_id,
            at=datetime.now(UTC),
            version=(current.version + 1) if current else 1,
        )
        action = "hold.set" if held else "hold.lift"
        await self.record(actor, action, subject_key, {"reason": reason})
        await asyncio.to_thread(self.repo.save_legal_hold, row)
        if held:
            return await self._move(actor, subject_key, "verified", "on_hold")
        return await self._move(actor, subject_key, "on_hold", "verified")

    async def decide(
        self, actor: Actor, row: PrivacyRequestRow, approve: bool, reason: str
    ) -> PrivacyRequestRow:
        """Approve (verified, or on_hold if the subject is held) or reject a pending request."""
        if row.status != "pending_verification":
            raise Conflict(f"request is {row.status}; only pending_verification can be decided")
        held = row.type == "deletion" and await self.is_held(row.subject_key)
        status: PrivacyRequestStatus = (
            "rejected" if not approve else "on_hold" if held else "verified"
        )
        row = requests.with_status(row, status)
        action = "request.approve" if approve else "request.reject"
        detail = {"request_id": row.request_id, "reason": reason, "status": status}
        await self.record(actor, action, row.subject_key, detail)
        await asyncio.to_thread(self.repo.save_privacy_request, row)
        if status == "verified":
            await self.dispatch(row)
        return row

    async def _move(
        self,
        actor: Actor,
        subject_key: str,
        source: PrivacyRequestStatus,
        target: PrivacyRequestStatus,
    ) -> list[str]:
        """Move the subject's deletions from one status to the other; dispatch released ones."""
        earlier = await asyncio.to_thread(self.repo.subject_requests, subject_key)
        moved = []
        for request in earlier:
            if request.type != "deletion" or request.status != source:
                continue
            row = requests.with_status(request, target)
            action = "deletion.hold" if target == "on_hold" else "deletion.release"
            await self.record(actor, action, subject_key, {"request_id": row.request_id})
            await asyncio.to_thread(self.repo.save_privacy_request, row)
            if target == "verified":
                await self.dispatch(row)
            moved.append(row.request_id)
        return moved
