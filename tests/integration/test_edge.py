"""The public edge over real sockets: bodies never read past their limit, Host never trusted.

A collector and an API run as processes (uvicorn) on free ports. Requests are written by hand
on a TCP socket, so a test can announce a body it never sends, or stream one chunk by chunk
and stop as soon as the server answers.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from consentstream.settings import CommonSettings
from tests.e2e.processes import Pipeline, free_port, wait_http
from tests.integration.test_collector import Collector, consent_body, event, running_collector

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://collect.example.com"
EVIL = "evil.example:1337"
ANSWER_WITHIN = 3.0  # seconds; before the edge, an announced body was awaited forever
SELF_SERVICE = "/v1/privacy/self-service/requests"


@pytest.fixture(scope="module")
def collector(
    stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Collector]:
    """A collector whose public URL differs from the address tests reach it at."""
    snippet = tmp_path_factory.mktemp("snippet") / "snippet.js"
    snippet.write_text("/* snippet */\n", encoding="utf-8")
    with running_collector(
        tmp_path_factory.mktemp("edge"),
        stack,
        public_url=PUBLIC_URL,
        snippet_path=str(snippet),
        rate_limit_per_second="0",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def api_url(stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An API process; nothing here gets past its edge to storage."""
    port = free_port()
    server = stack.clickhouse_url.rsplit("/", 1)[0]
    env = {
        **os.environ,
        "CONSENTSTREAM_API_PORT": str(port),
        "CONSENTSTREAM_CLICKHOUSE_URL": f"{server}/default",
        "CONSENTSTREAM_RETENTION_INTERVAL_HOURS": "0",
        "CONSENTSTREAM_USAGE_WARM_SECONDS": "0",
    }
    pipe = Pipeline(env, "", f"http://127.0.0.1:{port}")
    proc = pipe.start("api", "services.api", Path(tmp_path_factory.mktemp("api")))
    try:
        wait_http(f"{pipe.api_url}/healthz", proc)
        yield pipe.api_url
    finally:
        pipe.stop("api")


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10)
    sock.settimeout(ANSWER_WITHIN)
    return sock


def _head(path: str, headers: dict[str, str], method: str = "POST") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one response on ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def announce(
    url: str, path: str, length: int, origin: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Announce a ``length``-byte body, send none of it, and read the answer."""
    with _connect(url) as sock:
        head = {"Content-Type": "application/json", "Content-Length": str(length)}
        if origin:
            head["Origin"] = origin
        sock.sendall(_head(path, head))
        return _read_answer(sock)


def stream(url: str, path: str, total: int, chunk: int = 16 * 1024) -> tuple[int, bytes]:
    """Send ``total`` bytes chunked but never the closing chunk, and read the answer.

    The body never ends, so only a server that counts as it reads can answer at all.
    """
    with _connect(url) as sock:
        head = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        sock.sendall(_head(path, head))
        sent = 0
        while sent < total and not select.select([sock], [], [], 0)[0]:
            piece = b"x" * min(chunk, total - sent)
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except OSError:  # the server answered and closed; the answer is in our buffer
                break
            sent += len(piece)
        status, _, body = _read_answer(sock)
        return status, body


def chunked_json(
    url: str, path: str, document: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST ``document`` as a chunked body (no Content-Length), as a streaming client would."""
    raw = orjson.dumps(document)
    pieces = iter([raw[: len(raw) // 2], raw[len(raw) // 2 :]])
    return httpx.post(
        f"{url}{path}",
        content=pieces,
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=30,
    )


@pytest.mark.parametrize("path", ["/v1/events", "/v1/consent"])
def test_collector_answers_an_announced_64_mib_body_at_once_with_413(
    collector: Collector, path: str
) -> None:
    began = time.monotonic()
    status, headers, body = announce(collector.url, path, 64 * 1024 * 1024)
    assert status == 413 and time.monotonic() - began < ANSWER_WITHIN
    assert orjson.loads(body)["error"]["code"] == "too_large"
    assert headers.get("connection") == "close"


def test_a_site_page_can_read_the_413(collector: Collector, api_url: str) -> None:
    site = "http://127.0.0.1:8080"  # a default CORS origin of both services
    for url, path in ((collector.url, "/v1/events"), (api_url, SELF_SERVICE)):
        status, headers, _ = announce(url, path, 64 * 1024 * 1024, origin=site)
        assert status == 413 and headers.get("access-control-allow-origin") == site, path


def test_api_answers_an_announced_64_mib_body_at_once_with_413(api_url: str) -> None:
    for path in (SELF_SERVICE, "/v1/privacy/requests", "/v1/privacy/holds"):
        status, _, body = announce(api_url, path, 64 * 1024 * 1024)
        assert status == 413, path
        assert orjson.loads(body)["error"]["code"] == "too_large"


def test_chunked_600_kib_consent_is_cut_off_with_413(collector: Collector) -> None:
    status, body = stream(collector.url, "/v1/consent", 600 * 1024)
    assert status == 413
    assert "16384 bytes" in orjson.loads(body)["error"]["message"]


def test_chunked_events_over_the_limit_are_413(collector: Collector) -> None:
    assert stream(collector.url, "/v1/events", 2 * 1024 * 1024, 64 * 1024)[0] == 413


def test_api_cuts_off_a_chunked_body_over_its_limit(api_url: str) -> None:
    for path in (SELF_SERVICE, "/v1/privacy/requests"):
        assert stream(api_url, path, 600 * 1024)[0] == 413, path


def test_bodies_within_the_limit_pass_whole_chunked_or_not(
    collector: Collector, api_url: str
) -> None:
    assert chunked_json(collector.url, "/v1/consent", consent_body()).status_code == 201
    answer = chunked_json(collector.url, "/v1/events", {"events": [event(), event()]})
    assert answer.status_code == 202 and answer.json()["accepted"] == 2
    # The API reads the whole small body and answers for what it says: a token it cannot trust.
    own = {"type": "access", "visitor_token": "forged.token"}
    assert chunked_json(api_url, SELF_SERVICE, own).status_code in (401, 422)


def test_snippet_never_carries_the_host_header(collector: Collector) -> None:
    refused = httpx.get(f"{collector.url}/snippet.js", headers={"Host": EVIL}, timeout=10)
    assert refused.status_code == 400 and "evil.example" not in refused.text
    assert refused.json()["error"]["code"] == "invalid_host"
    served = httpx.get(f"{collector.url}/snippet.js", timeout=10)
    assert served.status_code == 200
    # The bundle is a static file: the same bytes whatever the request says (SRI-pinnable).
    assert served.text == "/* snippet */\n"
    assert served.headers["cache-control"].startswith("public")


def test_the_public_urls_host_is_served(collector: Collector) -> None:
    host = urlsplit(PUBLIC_URL).hostname or ""
    assert (
        httpx.get(f"{collector.url}/healthz", headers={"Host": host}, timeout=10).status_code == 200
    )


@pytest.mark.parametrize("path", ["/healthz/", "/v1/events/", "/docs/", "/demo"])
def test_collector_builds_no_redirect_from_the_host(collector: Collector, path: str) -> None:
    for host in (EVIL, "127.0.0.1"):
        got = httpx.get(f"{collector.url}{path}", headers={"Host": host}, timeout=10)
        assert "evil.example" not in got.headers.get("location", ""), (path, host)
        assert got.status_code in (400, 404), (path, host, got.status_code)


@pytest.mark.parametrize("path", ["/healthz/", "/v1/usage/pages/", "/docs/"])
def test_api_builds_no_redirect_from_the_host(api_url: str, path: str) -> None:
    for host in (EVIL, "127.0.0.1"):
        got = httpx.get(f"{api_url}{path}", headers={"Host": host}, timeout=10)
        assert "evil.example" not in got.headers.get("location", ""), (path, host)
        assert got.status_code in (400, 404), (path, host, got.status_code)


def test_api_refuses_a_foreign_host(api_url: str) -> None:
    got = httpx.get(f"{api_url}/healthz", headers={"Host": EVIL}, timeout=10)
    assert got.status_code == 400 and got.json()["error"]["code"] == "invalid_host"


def test_both_services_answer_errors_in_one_shape(collector: Collector, api_url: str) -> None:
    for url in (collector.url, api_url):
        missing = httpx.get(f"{url}/no-such-page", timeout=10)
        assert missing.status_code == 404
        assert missing.json() == {"error": {"code": "not_found", "message": "Not Found"}}
    invalid = httpx.post(f"{collector.url}/v1/consent", json={"visitor_id": 3}, timeout=10)
    assert invalid.status_code == 422
    error = invalid.json()["error"]
    assert error["code"] == "invalid_request" and error["field"].startswith("body")


def test_refusals_at_the_edge_are_counted(collector: Collector) -> None:
    announce(collector.url, "/v1/events", 64 * 1024 * 1024)
    httpx.get(f"{collector.url}/healthz", headers={"Host": EVIL}, timeout=10)
    metrics = httpx.get(f"{collector.url}/metrics", timeout=10).text
    for reason in ("too_large", "invalid_host"):
        assert f'collector_requests_rejected_total{{reason="{reason}"}}' in metrics, reason
