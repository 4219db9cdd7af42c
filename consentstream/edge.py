"""The public edge both HTTP services share: hosts and body sizes checked before any route runs.

Both are pure ASGI middleware, outside the framework: a refused request costs one header scan,
no body is read past its limit, and the answer has the one error body of :mod:`schemas.errors`.

- :class:`HostGuard` answers 400 to a ``Host`` that is not one of the service's own names, so
  nothing a route builds (a URL, a redirect) can carry an attacker's host.
- :class:`BodyLimit` answers 413 at once to a ``Content-Length`` over the route's limit (the body
  is never read), and counts a chunked body as it arrives, cutting it off at the limit; a body
  within the limit is handed to the app unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.errors import error_body

Refused = Callable[[str], None]
"""Told the error code of each request the edge refuses (a metric counts them)."""


def _ignore(code: str) -> None:
    """The default: nobody counts refusals."""


async def send_error(
    send: Send, status: int, code: str, message: str, *, close: bool = False
) -> None:
    """Answer with the one error body, before the app has started a response."""
    body = orjson.dumps(error_body(code, message))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:  # the client may still be sending a body nobody will read
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def host_name(host_header: str) -> str:
    """The host name of a ``Host`` value without its port (``[::1]:80`` -> ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostGuard:
    """400 for a request whose ``Host`` is not one of ``allowed`` (``"*"`` allows any)."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str], refused: Refused = _ignore) -> None:
        self.app = app
        self.allowed = frozenset(host_name(name) for name in allowed)
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass allowed hosts through; refuse the rest before the app sees them."""
        if scope["type"] != "http" or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        raw = _header(scope, b"host")
        name = host_name(raw.decode("latin-1")) if raw is not None else ""
        if name not in self.allowed:
            self.refused("invalid_host")
            await send_error(send, 400, "invalid_host", "the Host header names no host served here")
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for bodies over the limit of their path (``limits``), else ``default``."""

    def __init__(
        self,
        app: ASGIApp,
        default: int,
        limits: Mapping[str, int] | None = None,
        refused: Refused = _ignore,
    ) -> None:
        self.app = app
        self.default = default
        self.limits = dict(limits or {})
        self.refused = refused

    def limit_for(self, path: str) -> int:
        """The byte limit of ``path``."""
        return self.limits.get(path, self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an announced or streamed body over the limit; pass the rest through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = _header(scope, b"content-length")
        if length is not None:
            await self._announced(length, limit, scope, receive, send)
            return
        if _header(scope, b"transfer-encoding") is None:  # no body at all
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_up_to(receive, limit)
        except _ClientGone:
            return  # nobody left to answer
        if body is None:
            await self._too_large(send, limit)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _announced(
        self, length: bytes, limit: int, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The server frames the body by its Content-Length: it cannot grow past it."""
        try:
            announced = int(length)
        except ValueError:
            self.refused("bad_request")
            await send_error(send, 400, "bad_request", "Content-Length is not a number", close=True)
            return
        if announced > limit:
            await self._too_large(send, limit)
            return
        await self.app(scope, receive, send)

    async def _too_large(self, send: Send, limit: int) -> None:
        self.refused("too_large")
        message = f"request body over the limit of {limit} bytes for this route"
        await send_error(send, 413, "too_large", message, close=True)


class _ClientGone(Exception):
    """The client disconnected before its body was complete."""


async def _read_up_to(receive: Receive, limit: int) -> bytes | None:
    """The whole streamed body, or None as soon as it passes ``limit`` bytes.

    Raises :class:`_ClientGone` when the client disconnects first.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out the buffered body once, then defers to the server's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
