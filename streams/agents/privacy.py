"""The privacy-jobs agent: access and deletion jobs, one at a time, each ending with a result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
import orjson

from schemas.messages import PrivacyJob
from schemas.rows import PrivacyRequestRow

from .. import consent_history, privacy_jobs
from ..clients import WorkerClients
from ..retry import redis_retry, with_retry


class PrivacyAgent:
    """Carries out verified privacy requests; ``run_privacy_jobs`` is the Faust agent."""

    def __init__(self, clients: WorkerClients, app: faust.App) -> None:
        self.clients = clients
        self.app = app

    async def run_privacy_jobs(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        """Access and deletion jobs, one at a time, each ending with a stored result."""
        async for value in stream:
            job = PrivacyJob.model_validate_json(value)
            await self._run_job(job)
            yield None

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
        if request is None or request.status in ("done", "on_hold", "rejected"):
            return
        request = await self._save(request, "running", "")
        result: dict[str, Any]
        if job.type == "deletion":
            result = await privacy_jobs.erase(
                repo, self.clients.redis, job.subject_key, self._forget_state
            )
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
