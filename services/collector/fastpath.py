"""The collector's hot route served below the router: ``POST /v1/events`` without the framework.

Every request to the collector's busiest route went through FastAPI's exception middleware,
its exit-stack middleware, the router's match loop, the route's ``request_response`` wrapper
and its two exit stacks before the endpoint ran: about a fifth of what a 50-event request cost
the process. :class:`DirectEndpoint` is the innermost of the app's own middleware (inside the
host guard, CORS, the body limit and the request timer, which keep their effect) and calls the
route's endpoint itself; the route stays declared on the router, where the OpenAPI document
reads it from and where every other method on the path still gets its 405.

Errors are answered by the app's own exception handlers, looked up as Starlette's exception
middleware looks them up (by the error's class, nearest first), so every status, body and
header is the one the router's path gives; an error with no handler propagates to the server
error middleware, as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class DirectEndpoint:
    """ASGI middleware answering one ``method`` + ``path`` with ``route``'s endpoint."""

    def __init__(
        self,
        app: ASGIApp,
        route: APIRoute,
        method: str,
        handlers: Mapping[Any, Callable[..., Any]],
    ) -> None:
        self.app = app
        self.route = route
        self.path = route.path
        self.endpoint: Endpoint = route.endpoint
        self.method = method
        # The app's own mapping, read per error: a handler added after start-up is seen too.
        self.handlers = handlers

    def _serves(self, scope: Scope) -> bool:
        """Whether the request is exactly the route's, as the router would match it.

        A mounted app (a ``root_path``) and a request whose OpenTelemetry span the router
        would name take the router's path: both need what the router records in the scope.
        """
        return (
            scope["type"] == "http"
            and scope["path"] == self.path
            and scope["method"] == self.method
            and not scope.get("root_path")
            and scope.get("fastapi.telemetry") is None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the endpoint for the route's requests; pass every other one to the app."""
        if not self._serves(scope):
            await self.app(scope, receive, send)
            return
        # What the router's match puts in the scope: the request timer labels by the route.
        scope["route"] = self.route
        scope["endpoint"] = self.endpoint
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> ErrorHandler | None:
        """The handler Starlette's exception middleware would pick: an HTTP error's status
        first, then the nearest class.

        ``Exception`` (and 500) belong to the server error middleware, outside this one.
        """
        if isinstance(exc, HTTPException) and exc.status_code in self.handlers:
            by_status: ErrorHandler = self.handlers[exc.status_code]
            return by_status
        for kind in type(exc).__mro__:
            if kind is Exception:
                return None
            handler = self.handlers.get(kind)
            if handler is not None:
                found: ErrorHandler = handler
                return found
        return None
