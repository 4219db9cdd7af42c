"""A deletion directs every service provider to delete: real webhooks to a real local receiver.

A worker runs as a process on the real stack; the data map lists three processors on a local
HTTP server: one confirms at once (and checks the signature), one fails with 500 before a retry
confirms, one never answers within the timeout and ends pending, then flagged once its
(tiny) confirmation window has passed.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from consentstream import webhooks
from consentstream.identity import pseudonymize
from consentstream.storage.repository import Repository
from schemas.messages import PrivacyJob
from schemas.rows import PrivacyRequestRow
from services.api.privacy.models import PrivacyRequestOut
from services.api.privacy.rules import view
from tests.e2e.processes import free_port
from tests.isolation import PREFIX

from .test_worker import WorkerRun, isolated_run

pytestmark = pytest.mark.integration

SECRETS = {name: f"itest-{name}-{secrets.token_hex(8)}" for name in ("confirm", "flaky", "silent")}
# Timeouts generous enough for a loaded CI box to answer locally, shorter than the silence.
TIMEOUT_SECONDS = 2.0
SILENT_SECONDS = 5.0
CONFIRM_WINDOW_SECONDS = 10.0


class Receiver(ThreadingHTTPServer):
    """A processor's endpoints; every request is kept with whether its signature verified."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), Handler)
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"

    def of(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.seen if r["path"] == name]


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``seen`` instead."""

    def do_POST(self) -> None:
        name = self.path.strip("/")
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            webhooks.verify_signature(
                SECRETS[name], self.headers[webhooks.SIGNATURE_HEADER], body, time.time()
            )
            valid = True
        except webhooks.SignatureInvalid:
            valid = False
        with self.server.lock:
            earlier = [r for r in self.server.seen if r["path"] == name]
            self.server.seen.append(
                {"path": name, "valid": valid, "body": body, "headers": dict(self.headers)}
            )
        if name == "silent":
            time.sleep(SILENT_SECONDS)
        if not valid:
            self._answer(401, {"error": "bad signature"})
        elif name == "flaky" and not earlier:
            self._answer(500, {"error": "try again"})
        else:
            self._answer(200, {"reference": f"{name}-ticket"})

    def _answer(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the worker gave up waiting (the silent processor)
            pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def processor_env(receiver: Receiver, tmp_path: Path) -> dict[str, str]:
    """A data map listing the receiver's three endpoints, their secrets, and tiny delays."""
    data_map = Path(__file__).resolve().parents[2] / "data" / "data-map.yaml"
    text = data_map.read_text(encoding="utf-8").replace("processors: []", "processors:")
    for name in SECRETS:
        text += (
            f"  - name: {name}\n    description: Test processor {name}\n"
            f"    deletion_url: {receiver.url(name)}\n"
        )
    path = tmp_path / "data-map.yaml"
    path.write_text(text, encoding="utf-8")
    settings = {
        "data_map_path": str(path),
        "processor_secrets": json.dumps(SECRETS),
        "processor_first_timeout_seconds": str(TIMEOUT_SECONDS),
        "processor_timeout_seconds": str(TIMEOUT_SECONDS),
        "processor_retry_base_seconds": "0.2",
        "processor_retry_max_seconds": "0.5",
        "processor_max_attempts": "1000",
        "processor_confirm_days": str(CONFIRM_WINDOW_SECONDS / 86_400),
        "processor_sweep_seconds": "0.3",
    }
    return {f"{PREFIX}{name.upper()}": value for name, value in settings.items()}


def file_deletion(wr: WorkerRun, subject_key: str) -> str:
    """A verified deletion request and its job, as the API files them."""
    now = datetime.now(UTC)
    request_id = uuid.uuid4().hex
    Repository(wr.storage).save_privacy_request(
        PrivacyRequestRow(
            request_id=request_id,
            type="deletion",
            subject_key=subject_key,
            status="verified",
            created_at=now,
            updated_at=now,
            deadline=now + timedelta(days=30),
            result="",
            version=1,
        )
    )
    job = PrivacyJob(request_id=request_id, type="deletion", subject_key=subject_key)
    value = job.model_dump_json().encode()
    wr.producer.send(wr.topics.privacy_jobs, key=subject_key.encode(), value=value)
    wr.producer.flush()
    return request_id


def test_each_processor_confirms_is_retried_or_is_flagged(
    stack: Any, tmp_path: Path, receiver: Receiver
) -> None:
    with isolated_run(stack, tmp_path, partitions=1) as wr:
        wr.start("worker", **processor_env(receiver, tmp_path))
        check_deliveries(wr, receiver)


def check_deliveries(wr: WorkerRun, receiver: Receiver) -> None:
    repo = Repository(wr.storage)
    visitor = f"v-proc-{secrets.token_hex(6)}"
    subject_key = pseudonymize(visitor, wr.secret)
    request_id = file_deletion(wr, subject_key)

    def request() -> PrivacyRequestOut:
        row = repo.get_privacy_request(request_id)
        assert row is not None
        return view(row, 7)  # the API's answer to GET /v1/privacy/requests/{id}

    done = wr.wait(lambda: (r := request()).status == "done" and r, "the deletion to finish")
    assert done.result is not None
    first = done.result["receipt"]["processors"]
    assert first["confirm"]["status"] == "confirmed", first
    assert first["confirm"]["reference"] == "confirm-ticket"
    assert first["silent"]["status"] == "pending"
    assert first["silent"]["last_error"].startswith("no answer within")
    assert done.processors_overdue == []

    # the flaky processor answered 500 at first; a retry from the schedule confirms it
    def flaky_confirmed() -> dict[str, Any] | None:
        entry: dict[str, Any] = (request().result or {})["receipt"]["processors"]["flaky"]
        return entry if entry["status"] == "confirmed" else None

    flaky = wr.wait(flaky_confirmed, "the retry to confirm", timeout=30)
    assert flaky["attempts"] == 2 and flaky["confirmed_at"] and flaky["last_error"] is None
    tries = receiver.of("flaky")
    assert len(tries) == 2 and all(t["valid"] for t in tries)
    delivery = {t["headers"][webhooks.DELIVERY_HEADER] for t in tries}
    assert delivery == {flaky["delivery_id"]}, "a retry keeps its delivery id"

    # what a processor receives: signed, naming the request and the subject's pseudonym only
    (confirmed,) = receiver.of("confirm")
    assert confirmed["valid"]
    body = json.loads(confirmed["body"])
    assert body["request_id"] == request_id
    assert body["subject"] == {"kind": "pseudonym", "id": subject_key}
    assert visitor.encode() not in confirmed["body"]

    # the silent one stays pending while retried, then flags the request past its window
    flagged = wr.wait(
        lambda: (r := request()).processors_overdue and r,
        "the silent processor to be flagged",
        timeout=CONFIRM_WINDOW_SECONDS + 30,
    )
    assert flagged.processors_overdue == ["silent"]
    assert flagged.result is not None
    silent = flagged.result["receipt"]["processors"]["silent"]
    assert silent["status"] == "pending" and silent["attempts"] >= 2
    assert len(receiver.of("silent")) >= 2
