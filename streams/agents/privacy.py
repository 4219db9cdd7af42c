"""The privacy-jobs agent: access and deletion jobs, one at a time, each ending with a result."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
import orjson
from pydantic import ValidationError

from consentstream.storage.errors import DataRefused
from schemas.messages import PrivacyJob
from schemas.rows import PrivacyRequestRow

from .. import consent_history, privacy_jobs
from ..clients import WorkerClients
from ..processors import ProcessorDeletions
from ..retry import redis_retry, with_retry

log = logging.getLogger(__name__)


# Failures that happen again on every try: bad data, not an outage (those are retried).
FAILS_FOR_GOOD = (ValidationError, DataRefused, ValueError, TypeError)
FINAL_STATUSES = ("done", "on_hold", "rejected", "failed")


def _fields(exc: ValidationError) -> str:
    """Which fields failed and why, without the input values (they may be personal data)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"invalid data: {_fields(exc)}"
    if isinstance(exc, DataRefused):
        return str(exc)
    return f"{type(exc).__name__} while running the job"


def _request_id(value: bytes) -> str | None:
    """The request id of a job whose payload does not validate, if it names one."""
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    request_id = body.get("request_id") if isinstance(body, dict) else None
    return request_id if isinstance(request_id, str) and 0 < len(request_id) <= 64 else None


class PrivacyAgent:
    """Carries out verified privacy requests; ``run_privacy_jobs`` is the Faust agent."""

    def __init__(
        self, clients: WorkerClients, app: faust.App, processors: ProcessorDeletions
    ) -> None:
        self.clients = clients
        self.app = app
        self.processors = processors

    async def run_privacy_jobs(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Access and deletion jobs, one at a time, each ending ``done`` or ``failed``.

        A job that cannot succeed (its payload does not validate, storage refuses its data)
        ends ``failed`` with the reason as its result, where the API reads it, and the next
        job runs; storage or Redis being down is waited out as everywhere else.
        """
        async for value in stream:
            if value:
                await self._handle(value)
            yield None

    async def _handle(self, value: bytes) -> None:
        try:
            job = PrivacyJob.model_validate_json(value)
        except ValidationError as exc:
            reason = f"invalid privacy job: {_fields(exc)}"
            topic = self.clients.topics.names.privacy_jobs
            await self.clients.dead_letter(value, reason, topic)
            if (request_id := _request_id(value)) is not None:
                await self._fail(request_id, reason)
            return
        try:
            await self._run_job(job)
        except FAILS_FOR_GOOD as exc:
            log.warning("privacy job failed for good (%s)", type(exc).__name__)
            await self._fail(job.request_id, _reason(exc))

    async def _fail(self, request_id: str, reason: str) -> None:
        """End the request ``failed``, with the reason as its result (unless it already ended)."""
        repo = self.clients.repo
        try:
            request = await with_retry("load request", repo.get_privacy_request, request_id)
            if request is None or request.status in FINAL_STATUSES:
                return
            result = {"error": reason, "failed_at": datetime.now(UTC).isoformat()}
            await self._save(request, "failed", orjson.dumps(result).decode())
        except FAILS_FOR_GOOD as exc:  # the request itself is unreadable or refused
            log.error("privacy request could not be marked failed (%s)", type(exc).__name__)

    async def _forget_state(self, subject_key: str) -> int:
        """Drop the subject's consent history, and tombstone its decisions on the consent topic.

        The consent topic is compacted and its values carry the raw visitor id; a tombstone
        under the subject's key lets compaction remove them (the agents skip tombstones).
        """
        c = self.clients
        had = await redis_retry("forget", partial(consent_history.forget, c.redis, subject_key))
        await self.app.producer.send_and_wait(
            c.topics.names.consent, subject_key.encode(), None, None, None, None
        )
        return had

    async def _run_job(self, job: PrivacyJob) -> None:
        repo = self.clients.repo
        request = await with_retry("load request", repo.get_privacy_request, job.request_id)
        if request is None or request.status in FINAL_STATUSES:
            return
        request = await self._save(request, "running", "")
        result: dict[str, Any]
        if job.type == "deletion":
            body = await privacy_jobs.erase(
                repo,
                self.clients.redis,
                job.subject_key,
                self._forget_state,
                shred=self.clients.shred,
            )
            # Our own copies are gone; now the service providers are directed to delete theirs.
            body["processors"] = await self.processors.direct(
                job.request_id, job.subject_key, request.deadline
            )
            result = self.clients.receipt_signer.sign(body)  # last: it covers every section
        else:
            result = await privacy_jobs.access_report(repo, job.subject_key)
        await self._save(request, "done", orjson.dumps(result, default=str).decode())

    async def _save(
        self, request: PrivacyRequestRow, status: str, result: str
    ) -> PrivacyRequestRow:
        now = datetime.now(UTC)
        row = request.model_copy(
            update={
                "status": status,
                "updated_at": now,
                "result": result,
                "version": request.version + 1,
            }
        )
        await with_retry("save", self.clients.repo.save_privacy_request, row)
        return row
