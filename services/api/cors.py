"""CORS for the visitor's self-service endpoint, and for nothing else the API serves.

The web snippet files a visitor's own privacy request from the customer's site straight to
the API (``privacy.request``), proving who the visitor is with the signed visitor token in the
JSON body. That one endpoint answers browsers from the origins in ``api_cors_origins``:
POST only, only the ``Content-Type`` header, and never credentials, because it needs neither
cookies nor an ``Authorization`` header (the snippet's fetch sends none), so a page on an
allowed origin cannot ride on anything the browser holds for the API.

Every other endpoint is for staff and scripts holding a bearer key, which have no business in
a customer's pages: they get no CORS headers at all, so a browser on any origin neither passes
their preflight (needed for ``Authorization``) nor lets a page read their answers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

PREFLIGHT_CACHE_SECONDS = 600


class SelfServiceCORS:
    """Starlette's CORS middleware, applied only to requests for ``paths``."""

    def __init__(self, app: ASGIApp, origins: Sequence[str], paths: Collection[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["POST"],
            allow_headers=["Content-Type"],
            allow_credentials=False,
            expose_headers=["Retry-After"],  # a 429 or 503 tells the page when to try again
            max_age=PREFLIGHT_CACHE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Self-service paths go through CORS; every other request passes by untouched."""
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
