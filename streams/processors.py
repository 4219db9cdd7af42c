"""Directing service providers to delete: signed webhooks, a first try, then a durable schedule.

At erasure, :meth:`ProcessorDeletions.direct` records a delivery per processor of the data map
and tries each once with a short timeout, so a slow processor never holds up the deletion job.
What is not confirmed then is retried by :meth:`ProcessorDeletions.sweep`, which the worker runs
periodically (one worker at a time, under a Redis lock) with exponential backoff and jitter;
each change is written to ``processor_deliveries`` and to the receipt's ``processors`` section.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from redis.asyncio import Redis

from consentstream import redis_keys, webhooks
from consentstream.storage.deliveries import Deliveries
from consentstream.storage.repository import Repository
from schemas.rows import PrivacyRequestRow, ProcessorDeliveryRow

from .config import WorkerSettings
from .processor_delivery import (
    DeliveryPolicy,
    Outcome,
    advance,
    classify,
    new_delivery,
    receipt_section,
)
from .retry import with_retry

log = logging.getLogger(__name__)

ANSWER_MAX_BYTES = 4096
SWEEP_BATCH = 100
SWEEP_REQUESTS_AT_ONCE = 10


def policy_of(settings: WorkerSettings) -> DeliveryPolicy:
    """The delivery policy the worker's settings describe."""
    s = settings
    return DeliveryPolicy(
        first_timeout=s.processor_first_timeout_seconds,
        timeout=s.processor_timeout_seconds,
        retry_base=s.processor_retry_base_seconds,
        retry_max=s.processor_retry_max_seconds,
        max_attempts=s.processor_max_attempts,
        confirm_window=timedelta(days=s.processor_confirm_days),
    )


async def _read_answer(response: httpx.Response) -> Any:
    """The answer's JSON, read no further than a small cap (its reference is all we keep)."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > ANSWER_MAX_BYTES:
            return None
    try:
        return orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        return None


class ProcessorDeletions:
    """Sends, retries and records the deletions every processor of the data map must carry out."""

    def __init__(
        self,
        settings: WorkerSettings,
        repo: Repository,
        redis: Redis,
        sign: Sign,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        processors = webhooks.load_processors(settings.data_map_path)
        secrets = {n: s.get_secret_value() for n, s in settings.processor_secrets.items()}
        webhooks.check_deployable(processors, secrets, test=settings.environment == "test")
        self.processors = {p.name: p for p in processors}
        self.secrets = secrets
        self.policy = policy_of(settings)
        self.repo = repo
        self.sign = sign
        self.deliveries = Deliveries(repo.storage)
        self.redis = redis
        self.lock_name = redis_keys.processor_sweep_lock(repo.storage.database)
        self.sweep_seconds = settings.processor_sweep_seconds
        self.client = client or httpx.AsyncClient(
            follow_redirects=False, headers={"User-Agent": "consentstream-webhooks/1"}
        )
        self.rng = random.Random()

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()

    async def direct(
        self, request_id: str, subject_key: str, deadline: datetime
    ) -> dict[str, dict[str, Any]]:
        """Record a delivery per processor, try each once, and return the receipt section.

        Run again for the same request (a job replayed after a crash), it reuses the deliveries
        already recorded, so a processor sees the same delivery id.
        """
        if not self.processors:
            return {}
        recorded = await with_retry("deliveries", self.deliveries.of_request, request_id)
        known = {r.processor: r for r in recorded}
        now = datetime.now(UTC)
        fresh = [
            new_delivery(request_id, name, subject_key, now, deadline, self.policy)
            for name in self.processors
            if name not in known
        ]
        await with_retry("save deliveries", self.deliveries.save, fresh)
        rows = [*known.values(), *fresh]
        pending = [r for r in rows if r.status == "pending"]
        tried = await asyncio.gather(
            *(self._attempt(r, self.policy.first_timeout) for r in pending)
        )
        await with_retry("save deliveries", self.deliveries.save, list(tried))
        done = {r.processor: r for r in rows} | {r.processor: r for r in tried}
        return receipt_section(list(done.values()))

    async def _attempt(self, row: ProcessorDeliveryRow, timeout: float) -> ProcessorDeliveryRow:
        """One signed POST to the row's processor, and the delivery's state after it."""
        processor = self.processors.get(row.processor)
        if processor is None:
            outcome = Outcome(False, False, "processor no longer in the data map")
        else:
            try:
                outcome = await self._post(processor, row, timeout)
            except Exception as exc:  # a bug here must not stop the privacy agent
                log.exception("processor %s: unexpected error", row.processor)
                outcome = Outcome(False, True, f"unexpected {type(exc).__name__}")
        if not outcome.confirmed:
            log.warning(
                "processor %s: request %s not confirmed (%s)",
                row.processor,
                row.request_id,
                outcome.error,
            )
        return advance(row, outcome, datetime.now(UTC), self.policy, self.rng)

    async def _post(
        self, processor: webhooks.ProcessorEntry, row: ProcessorDeliveryRow, timeout: float
    ) -> Outcome:
        body = webhooks.deletion_body(
            row.delivery_id, row.request_id, row.subject_key, row.created_at
        )
        headers = {
            "Content-Type": "application/json",
            webhooks.DELIVERY_HEADER: row.delivery_id,
            webhooks.ATTEMPT_HEADER: str(row.attempts + 1),
            webhooks.SIGNATURE_HEADER: webhooks.sign(
                self.secrets[processor.name], body, int(time.time())
            ),
        }
        try:
            # httpx's timeout bounds each phase; the outer one bounds a slow trickle as well.
            async with asyncio.timeout(timeout):
                async with self.client.stream(
                    "POST",
                    processor.deletion_url,
                    content=body,
                    headers=headers,
                    timeout=timeout,
                ) as response:
                    return classify(response.status_code, await _read_answer(response))
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(False, True, f"no answer within {timeout:g}s")
        except httpx.HTTPError as exc:
            return Outcome(False, True, f"connection failed ({type(exc).__name__})")

    async def sweep(self) -> None:
        """Retry the deliveries that are due; one worker at a time, never raising.

        A storage or Redis outage only skips this round: the schedule is in ClickHouse.
        """
        if not self.processors:  # nothing to direct: spare the storage a query every round
            return
        # Held for the longest a round can take (every batch of requests timing out), so a
        # second worker never sweeps the same deliveries alongside.
        rounds = SWEEP_BATCH // SWEEP_REQUESTS_AT_ONCE + 1
        lock = self.redis.lock(
            self.lock_name, timeout=self.sweep_seconds + rounds * self.policy.timeout * 2
        )
        try:
            if not await lock.acquire(blocking=False):
                return
            try:
                await self._sweep_due()
            finally:
                await lock.release()
        except Exception:  # a periodic task that raised would never run again
            log.exception("processor deletion sweep failed; next round in %ss", self.sweep_seconds)

    async def _sweep_due(self) -> None:
        due = await asyncio.to_thread(self.deliveries.due, datetime.now(UTC), SWEEP_BATCH)
        by_request: dict[str, set[str]] = {}
        for request_id, processor in due:
            by_request.setdefault(request_id, set()).add(processor)
        limit = asyncio.Semaphore(SWEEP_REQUESTS_AT_ONCE)

        async def retry(request_id: str, names: set[str]) -> None:
            async with limit:
                await self._retry_request(request_id, names)

        outcomes = await asyncio.gather(
            *(retry(r, n) for r, n in by_request.items()), return_exceptions=True
        )
        for failure in (o for o in outcomes if isinstance(o, Exception)):
            log.warning("processor retry skipped this round (%s)", type(failure).__name__)

    async def _retry_request(self, request_id: str, names: set[str]) -> None:
        """Retry one request's due deliveries, then bring its receipt up to date.

        A request whose deletion job has not saved its receipt yet is left for a later round:
        the job writes the section itself, and a change made meanwhile would be lost.
        """
        request = await asyncio.to_thread(self.repo.get_privacy_request, request_id)
        if request is None or request.status != "done":
            return
        rows = await asyncio.to_thread(self.deliveries.of_request, request_id)
        due = [r for r in rows if r.processor in names and r.status == "pending"]
        tried = await asyncio.gather(*(self._attempt(r, self.policy.timeout) for r in due))
        await asyncio.to_thread(self.deliveries.save, list(tried))
        latest = {r.processor: r for r in rows} | {r.processor: r for r in tried}
        await asyncio.to_thread(
            update_receipt, self.repo, request, receipt_section(list(latest.values())), self.sign
        )


Sign = Callable[[dict[str, Any]], dict[str, Any]]
"""Signs a receipt body into the signed file (``ReceiptSigner.sign``)."""


def update_receipt(
    repo: Repository, request: PrivacyRequestRow, section: dict[str, dict[str, Any]], sign: Sign
) -> None:
    """Store the request again with its receipt's ``processors`` section replaced, signed anew.

    The signature covers every section, so a confirmation arriving later gets a new signature
    over the whole body; the older file stays valid for what it said then.
    """
    try:
        result = orjson.loads(request.result)
    except orjson.JSONDecodeError:  # never overwrite a receipt we cannot read
        result = None
    body = result.get("receipt") if isinstance(result, dict) else None
    if not isinstance(body, dict):
        log.warning(
            "request %s: receipt unreadable, processors section not updated", request.request_id
        )
        return
    if body.get("processors") == section:
        return
    signed = sign({**body, "processors": section})
    row = request.model_copy(
        update={
            "result": orjson.dumps(signed, default=str).decode(),
            "updated_at": datetime.now(UTC),
            "version": request.version + 1,
        }
    )
    repo.save_privacy_request(row)
