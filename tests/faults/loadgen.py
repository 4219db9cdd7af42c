"""A load generator that behaves like the snippet: batches, client-made event ids, retries.

It posts over real HTTP, retries a batch with the same event ids on network errors, 429 and 5xx
(with backoff, as the snippet does), and records which event ids were acknowledged with 202.
Each batch is one browser's: it carries that visitor's collector cookie (an id minted by an
analytics grant, see :func:`visitors`) or none (anonymous), never a body visitor id. Every
``consent_every``-th batch it also records a consent decision from a browser of its own (never
the event visitors, whom a deletion scenario erases) and keeps the ``consent_id`` of each
decision the collector answered with 201.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


@dataclass
class LoadStats:
    """What the generator sent and what the collector acknowledged."""

    sent: int = 0
    acked: set[str] = field(default_factory=set)
    retries: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    ack_times: list[float] = field(default_factory=list)
    visitor_of: dict[str, str | None] = field(default_factory=dict)
    consents: set[str] = field(default_factory=set)
    acked_at: dict[str, float] = field(default_factory=dict)

    def acked_for(self, visitor: str) -> set[str]:
        """Acknowledged event ids of one visitor."""
        return {e for e, v in self.visitor_of.items() if v == visitor and e in self.acked}


def visitors(collector_url: str, count: int) -> list[str | None]:
    """``count`` browsers: every other one grants analytics (the collector mints its id into
    the cookie, returned here), the rest refuse it (None: their events are anonymous)."""
    out: list[str | None] = []
    for i in range(count):
        body = {
            "choices": {
                "necessary": True,
                "analytics": i % 2 == 0,
                "marketing": False,
                "preferences": False,
            },
            "policy_version": "2026-01",
            "policy_hash": "faults",
        }
        r = httpx.post(f"{collector_url}/v1/consent", json=body, timeout=10)
        assert r.status_code == 201, r.text
        minted = r.cookies.get("cs_vid")
        assert bool(minted) == (i % 2 == 0), "an id exactly for the analytics grants"
        out.append(minted)
    return out


def pageview(n: int) -> dict[str, object]:
    """One pageview event with a fresh id (whose it is, the request's cookie says)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "pageview",
        "ts": datetime.now(UTC).isoformat(),
        "page": {"url": f"https://example.com/load/{n % 17}", "title": "load"},
        "browser": {"user_agent": UA},
    }


class LoadGenerator:
    """Posts batches in a background thread until stopped or ``total`` events are acked."""

    def __init__(
        self,
        url: str,
        visitors: list[str | None],
        *,
        batch: int = 10,
        rate: float = 20.0,
        total: int = 10_000,
        forwarded_for: str = "203.0.113.50",
        consent_every: int = 4,
    ) -> None:
        self.url = f"{url}/v1/events"
        self.consent_url = f"{url}/v1/consent"
        self.consent_every = consent_every
        self.visitors = visitors
        self.batch = batch
        self.interval = 1.0 / rate
        self.total = total
        self.headers = {"X-Forwarded-For": forwarded_for}
        self.stats = LoadStats()
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> LoadGenerator:
        self._thread.start()
        return self

    def stop(self, timeout: float = 120) -> LoadStats:
        """Stop sending new batches; the batch in flight is retried until acknowledged."""
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "load generator did not finish its last batch"
        if self.failure is not None:
            raise AssertionError(f"load generator failed: {self.failure}") from self.failure
        return self.stats

    def _run(self) -> None:
        try:
            self._send_until_stopped()
        except BaseException as exc:  # surfaced to the test by stop()
            self.failure = exc

    def _send_until_stopped(self) -> None:
        n = 0
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set() and len(self.stats.acked) < self.total:
                visitor = self.visitors[(n // self.batch) % len(self.visitors)]
                events = [pageview(n + i) for i in range(self.batch)]
                n += self.batch
                self.stats.sent += len(events)
                self._deliver(client, events, visitor)
                if self.consent_every and (n // self.batch) % self.consent_every == 0:
                    self._decide(client, n // self.batch)
                time.sleep(self.interval)

    def _decide(self, client: httpx.Client, n: int) -> None:
        """Record one consent decision, retried like a batch until the collector answers 201."""
        body = {
            "choices": {
                "necessary": True,
                "analytics": n % 2 == 0,
                "marketing": False,
                "preferences": n % 3 == 0,
            },
            "policy_version": "2026-01",
            "policy_hash": "faults",
        }
        response = self._post(client, self.consent_url, body, 201)
        self.stats.consents.add(str(response.json()["consent_id"]))

    def _deliver(
        self, client: httpx.Client, events: list[dict[str, object]], visitor: str | None
    ) -> None:
        """Send one batch from ``visitor``'s browser until acknowledged (same ids every try)."""
        body = {"events": events, "sent_at": datetime.now(UTC).isoformat()}
        cookie = {"Cookie": f"cs_vid={visitor}"} if visitor else {}
        self._post(client, self.url, body, 202, cookie)
        now = time.monotonic()
        for event in events:
            self.stats.acked_at[str(event["event_id"])] = now
            self.stats.acked.add(str(event["event_id"]))
            self.stats.visitor_of[str(event["event_id"])] = visitor
        self.stats.ack_times.append(time.monotonic())

    def _post(
        self,
        client: httpx.Client,
        url: str,
        body: Mapping[str, object],
        ok: int,
        cookie: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST until the answer is ``ok``, retrying network errors, 429 and 5xx with backoff."""
        delay = 0.1
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                response = client.post(url, json=body, headers={**self.headers, **(cookie or {})})
            except httpx.HTTPError:
                self.stats.errors += 1
            else:
                code = response.status_code
                self.stats.statuses[code] = self.stats.statuses.get(code, 0) + 1
                if code == ok:
                    return response
                if code < 500 and code != 429:
                    raise AssertionError(
                        f"collector refused a valid request: {code} {response.text}"
                    )
            self.stats.retries += 1
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        raise AssertionError(f"{url} never answered {ok} within 180 s")
