"""The collector's CORS writes a simple answer's headers from the raw lists: as Starlette would."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from starlette.types import Message, Receive, Scope, Send

from services.collector.cors import CredentialedCORS

LISTED = "https://www.example.com"
ORIGINS = [None, LISTED, "https://evil.example.com"]
# What a route may have set itself: nothing, a Vary, its own CORS answer, a stray credential.
ROUTE_HEADERS = [
    [],
    [(b"vary", b"Accept-Encoding")],
    [(b"access-control-allow-origin", b"*")],
    [(b"access-control-allow-origin", LISTED.encode())],
    [(b"access-control-allow-credentials", b"true")],
    [(b"set-cookie", b"cs_vid=; Max-Age=0"), (b"vary", b"Cookie"), (b"vary", b"Accept")],
]


def _route(headers: list[tuple[bytes, bytes]]) -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 202, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def _answer(raw_path: bool, origin: str | None, route: list[tuple[bytes, bytes]]) -> list[Message]:
    cors = CredentialedCORS(
        _route(route),  # type: ignore[arg-type]
        allow_origins=[LISTED],
        allow_methods=["GET", "POST"],
        allow_credentials=True,
        allow_headers=["Content-Type"],
    )
    cors._raw_path = raw_path
    headers = [(b"host", b"collector.example.com")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    scope = {"type": "http", "method": "POST", "path": "/v1/events", "headers": headers}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(cors(scope, receive, send))
    return sent


@pytest.mark.parametrize(("origin", "route"), list(itertools.product(ORIGINS, ROUTE_HEADERS)))
def test_simple_answers_carry_starlettes_headers(
    origin: str | None, route: list[tuple[bytes, bytes]]
) -> None:
    """Same header list, in the same order, for every origin and whatever the route set."""
    assert _answer(True, origin, route) == _answer(False, origin, route)


def test_a_listed_origin_gets_credentials_and_its_origin() -> None:
    """What a site's snippet relies on: its origin echoed with credentials, Vary: Origin."""
    start = _answer(True, LISTED, [])[0]
    assert start["headers"] == [
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-allow-origin", LISTED.encode()),
        (b"vary", b"Origin"),
    ]
