"""The privacy casework service: filing, decisions, legal holds, audited reads and exports.

The API routes, the pages and the CLI call this and nothing below it: it loads and stores
through the repository, decides with :mod:`.rules`, audits before data leaves, and hands
verified work to the worker.

Holds and the worker: the API checks a subject's hold before handing a deletion to the worker
(a held deletion is stored ``on_hold`` and no job is produced); lifting the hold moves each
held deletion back to ``verified`` and produces its job. A hold set after a job was produced
does not stop that job (the worker does not re-check holds).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
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

from ..datamap import DataMap, access_report
from ..errors import Conflict, NotFound, TooManyRequests
from . import export, rules
from .intake import one_filing_at_a_time
from .models import Jurisdiction, PrivacyRequestOut


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


@dataclass(frozen=True)
class NewRequest:
    """A data subject request as filed: what, about whom, under which law, by whose word."""

    kind: PrivacyRequestType
    subject_key: str
    jurisdiction: Jurisdiction = "gdpr"
    detail: dict[str, Any] = field(default_factory=dict)
    """Kept in the audit log with the filing (e.g. an agent's evidence)."""
    pending: bool = False
    """Filed for someone else: waits in pending_verification for a reviewer."""


@dataclass
class Casework:
    """The stores, the job topic and the rules a privacy operation needs."""

    repo: Repository
    audit: AuditLog
    producer: EventProducer
    topics: Topics
    policy: rules.Policy = field(default_factory=rules.Policy)

    async def record(self, actor: Actor, action: str, target: str, detail: dict[str, Any]) -> None:
        """Append to the audit log before the data leaves: no unaudited per-visitor read."""
        await asyncio.to_thread(self.audit.append, actor.key_id, actor.role, action, target, detail)

    async def dispatch(self, row: PrivacyRequestRow) -> None:
        """Hand a verified request to the worker through the privacy jobs topic."""
        job = rules.job_of(row)
        await self.producer.send_all(
            self.topics.privacy_jobs, [(row.subject_key.encode(), job.model_dump_json().encode())]
        )

    async def file(self, actor: Actor, request: NewRequest) -> Filing:
        """File a request unless one of its type is open for the subject (then answer with it).

        A new one is checked against the 12-month limit and holds, audited, stored and handed
        to the worker. The subject's filing lock (across every process) makes the checks and
        the save one step, so two filings cannot both pass them.
        """
        async with one_filing_at_a_time(self.audit.redis, request.subject_key):
            return await self._file(actor, request)

    async def _file(self, actor: Actor, request: NewRequest) -> Filing:
        kind, subject = request.kind, request.subject_key
        earlier = await asyncio.to_thread(self.repo.subject_requests, subject)
        existing = rules.open_request(earlier, kind)
        if existing is not None:
            return Filing(existing, new=False)
        if kind in rules.LIMITED_TYPES:
            self._check_limit(earlier, self.policy.access_requests_per_year)
        held = kind == "deletion" and await self.is_held(subject)
        status: PrivacyRequestStatus = (
            "pending_verification" if request.pending else "on_hold" if held else "verified"
        )
        days = self.policy.deadline_days(request.jurisdiction)
        row = rules.new_request(kind, subject, days, status)
        detail = {**request.detail, "request_id": row.request_id, "type": kind, "status": status}
        await self.record(actor, "request.file", subject, detail)
        await asyncio.to_thread(self.repo.save_privacy_request, row)
        if status == "verified":
            await self.dispatch(row)
        return Filing(row, new=True)

    @staticmethod
    def _check_limit(earlier: list[PrivacyRequestRow], limit: int) -> None:
        allowed = rules.next_allowed(earlier, limit, datetime.now(UTC))
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
        row = rules.with_status(row, status)
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
            row = rules.with_status(request, target)
            action = "deletion.hold" if target == "on_hold" else "deletion.release"
            await self.record(actor, action, subject_key, {"request_id": row.request_id})
            await asyncio.to_thread(self.repo.save_privacy_request, row)
            if target == "verified":
                await self.dispatch(row)
            moved.append(row.request_id)
        return moved

    async def load(self, request_id: str) -> PrivacyRequestRow:
        """The request's latest state (404 when there is none)."""
        row = await asyncio.to_thread(self.repo.get_privacy_request, request_id)
        if row is None:
            raise NotFound(f"no privacy request {request_id!r}")
        return row

    async def approve_or_reject(
        self, actor: Actor, request_id: str, approve: bool, reason: str
    ) -> PrivacyRequestRow:
        """Load a request and :meth:`decide` it."""
        return await self.decide(actor, await self.load(request_id), approve, reason)

    async def requests(
        self,
        status: PrivacyRequestStatus | None,
        due_soon: bool | None,
        processors_overdue: bool | None = None,
    ) -> list[PrivacyRequestOut]:
        """Requests newest first without results, filtered by status and the two flags."""
        rows = await asyncio.to_thread(self.repo.list_privacy_requests)
        views = [rules.view(r, self.policy.due_soon_days, with_result=False) for r in rows]
        return [
            v
            for v in views
            if (status is None or v.status == status)
            and (due_soon is None or v.due_soon == due_soon)
            and (processors_overdue is None or bool(v.processors_overdue) == processors_overdue)
        ]

    async def read(self, actor: Actor, data_map: DataMap, request_id: str) -> PrivacyRequestOut:
        """A request with its report or receipt; reading a result is audited first."""
        row = await self.load(request_id)
        result = await asyncio.to_thread(result_with_report, self.repo, data_map, row)
        if result is not None:
            detail = {"request_id": row.request_id, "type": row.type}
            await self.record(actor, "request.read", row.subject_key, detail)
        out = rules.view(row, self.policy.due_soon_days, with_result=False)
        return out.model_copy(update={"result": result})

    async def export(
        self, actor: Actor, data_map: DataMap, request_id: str, file_format: str
    ) -> tuple[PrivacyRequestRow, bytes]:
        """The subject's data of a done access/portability request as JSON or CSV (audited)."""
        row = await self.load(request_id)
        if row.type == "deletion":
            raise Conflict("a deletion request has no data to export; read its receipt instead")
        result = None
        if row.status == "done":
            result = await asyncio.to_thread(result_with_report, self.repo, data_map, row)
        if result is None:
            raise Conflict(f"request is {row.status}; export is available once it is done")
        detail = {"request_id": row.request_id, "format": file_format}
        await self.record(actor, "request.export", row.subject_key, detail)
        if file_format == "csv":
            return row, export.export_csv(result.get("data", {})).encode()
        payload = {
            "request_id": row.request_id,
            "data": result.get("data", {}),
            "report": result["report"],
        }
        return row, orjson.dumps(payload, option=orjson.OPT_INDENT_2)
