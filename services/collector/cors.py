"""CORS for the collector: credentials (the visitor cookie) for the listed site origins only.

Starlette's middleware sends ``Access-Control-Allow-Credentials: true`` to every origin (the
browser then refuses for want of a matching ``Access-Control-Allow-Origin``) and beside a
route's own ``Access-Control-Allow-Origin: *`` (the public snippet files). Here the credentials
header goes only with an echoed, listed origin. The privacy center gets no CORS at all: its
pages show the visitor's reference code and CSRF token, which no site script may read.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

CREDENTIALS = "access-control-allow-credentials"
NO_CORS_PREFIXES = ("/privacy",)


class CredentialedCORS(CORSMiddleware):
    """CORS with credentials answered to allowlisted origins alone, none on the privacy center."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass privacy-center requests through untouched; the rest as Starlette does."""
        if scope["type"] == "http" and scope["path"].startswith(NO_CORS_PREFIXES):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

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
                headers = MutableHeaders(scope=message)
                origin = headers.get("access-control-allow-origin")
                if origin is None or origin == "*" or not self.is_allowed_origin(origin):
                    del headers[CREDENTIALS]
            await send(message)

        await super().send(message, only_listed, request_headers)
