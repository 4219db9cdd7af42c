"""CORS for the collector: credentials (the visitor cookie) for the listed site origins only.

Starlette's middleware sends ``Access-Control-Allow-Credentials: true`` to every origin (the
browser then refuses for want of a matching ``Access-Control-Allow-Origin``) and beside a
route's own ``Access-Control-Allow-Origin: *`` (the public snippet files). Here the credentials
header goes only with an echoed, listed origin. The privacy center gets no CORS at all: its
pages show the visitor's reference code and CSRF token, which no site script may read.

Every collector request passes here, so a simple (not preflight) request's answer is written
from the raw header lists when the route set none of the CORS headers itself (its usual case):
Starlette's path parses the request's headers and the answer's twice (its own step and the
credentials filter), ~30 us of a request; the headers it writes are the same.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CREDENTIALS = "access-control-allow-credentials"
NO_CORS_PREFIXES = ("/privacy",)
# Answer headers the CORS step reads or sets: a route that set one takes Starlette's path.
_CORS_SET = frozenset((b"vary", b"access-control-allow-origin", CREDENTIALS.encode()))
_VARY = (b"vary", b"Origin")
_ALLOWED = (CREDENTIALS.encode(), b"true")


class CredentialedCORS(CORSMiddleware):
    """CORS with credentials answered to allowlisted origins alone, none on the privacy center."""

    def __init__(self, app: ASGIApp, /, **options: Any) -> None:
        super().__init__(app, **options)
        # The raw-header path writes exactly what these options make Starlette write.
        self._raw_path = not self.allow_all_origins and self.simple_headers == {
            "Access-Control-Allow-Credentials": "true"
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass privacy-center requests through untouched; the rest as Starlette does."""
        if scope["type"] == "http" and scope["path"].startswith(NO_CORS_PREFIXES):
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not self._raw_path:
            await super().__call__(scope, receive, send)
            return
        origin = _first(scope["headers"], b"origin")

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._simple_headers(message, origin, scope)
            await send(message)

        await self.app(scope, receive, answer)

    def _simple_headers(self, message: Message, origin: bytes | None, scope: Scope) -> None:
        """What Starlette's ``send`` and :meth:`send` together add to a simple answer."""
        raw: list[tuple[bytes, bytes]] = message.setdefault("headers", [])
        if any(name in _CORS_SET for name, _ in raw):
            self._general(message, scope)
            return
        if origin is not None and self.is_allowed_origin(origin.decode("latin-1")):
            raw += (_ALLOWED, (b"access-control-allow-origin", origin), _VARY)
        else:  # no origin, or one not listed: credentials go, Vary stays
            raw.append(_VARY)

    def _general(self, message: Message, scope: Scope) -> None:
        """Starlette's header step and the credentials filter, for an answer with CORS headers."""
        request_headers = Headers(scope=scope)
        headers = MutableHeaders(scope=message)
        origin = request_headers.get("Origin")
        if origin is not None:
            headers.update(self.simple_headers)
        if origin is not None and self.is_allowed_origin(origin=origin):
            self.allow_explicit_origin(headers, origin)
        else:
            headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
        _only_listed(self, headers)

    def preflight_response(self, request_headers: Headers) -> Response:
        """A preflight from an unlisted origin is refused without the credentials header."""
        response = super().preflight_response(request_headers)
        if not self.is_allowed_origin(request_headers["origin"]):
            del response.headers[CREDENTIALS]
        return response

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        """Drop the credentials header unless the answer names one listed origin."""

        async def only_listed(message: Message) -> None:
            if message["type"] == "http.response.start":
                _only_listed(self, MutableHeaders(scope=message))
            await send(message)

        await super().send(message, only_listed, request_headers)


def _only_listed(cors: CORSMiddleware, headers: MutableHeaders) -> None:
    origin = headers.get("access-control-allow-origin")
    if origin is None or origin == "*" or not cors.is_allowed_origin(origin):
        del headers[CREDENTIALS]


def _first(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case), as Starlette's ``Headers.get``."""
    for key, value in headers:
        if key == name:
            return value
    return None
