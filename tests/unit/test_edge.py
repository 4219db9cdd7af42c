"""The shared edge middleware as plain ASGI calls: what reaches the app, and what is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from consentstream.edge import BodyLimit, HostGuard, host_name


class Recorder:
    """An app that reads the whole body and answers 200, remembering what it read."""

    def __init__(self) -> None:
        self.body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.body = body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(app: Any, headers: dict[str, str], chunks: list[bytes], path: str = "/x") -> list[Message]:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def status(sent: list[Message]) -> int:
    return int(sent[0]["status"])


@pytest.mark.parametrize(
    ("header", "name"),
    [("Example.com:8080", "example.com"), ("[::1]:80", "::1"), ("127.0.0.1", "127.0.0.1")],
)
def test_host_name_drops_the_port(header: str, name: str) -> None:
    assert host_name(header) == name


def test_a_foreign_host_never_reaches_the_app() -> None:
    app = Recorder()
    sent = call(HostGuard(app, ["collect.example.com"]), {"host": "evil.example:1337"}, [b""])
    assert status(sent) == 400 and app.body is None
    assert orjson.loads(sent[1]["body"])["error"]["code"] == "invalid_host"
    assert (
        status(
            call(
                HostGuard(app, ["collect.example.com"]), {"host": "collect.example.com:443"}, [b""]
            )
        )
        == 200
    )


def test_an_announced_body_over_the_limit_is_refused_unread() -> None:
    app = Recorder()
    sent = call(BodyLimit(app, 10), {"content-length": "11"}, [b"x" * 11])
    assert status(sent) == 413 and app.body is None
    assert (b"connection", b"close") in sent[0]["headers"]


def test_a_chunked_body_is_cut_off_at_the_limit_of_its_path() -> None:
    app = Recorder()
    limit = BodyLimit(app, 100, {"/small": 5})
    assert status(call(limit, {"transfer-encoding": "chunked"}, [b"abc", b"def"], "/small")) == 413
    assert app.body is None
    assert status(call(limit, {"transfer-encoding": "chunked"}, [b"abc", b"def"], "/big")) == 200
    assert app.body == b"abcdef", "a body within the limit reaches the app whole"


def test_a_length_that_is_no_number_is_a_400() -> None:
    assert status(call(BodyLimit(Recorder(), 10), {"content-length": "ten"}, [b""])) == 400
