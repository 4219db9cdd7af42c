"""A route FastAPI documents as usual but calls as ``endpoint(request) -> Response``.

FastAPI resolves an endpoint's dependencies on every request, and in the FastAPI this project
runs that bookkeeping (cache keys, generator checks, scope lookups) cost the collector's hot
route more than half of its framework time. A :class:`DirectRoute` keeps everything FastAPI
does around the endpoint (exception handlers, body limit, OpenAPI from the declaration) and
only skips that resolution, so the endpoint takes the request alone and does its own checks.
This is FastAPI's documented extension point (a custom ``APIRoute.get_route_handler``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    """Calls its ``async def endpoint(request: Request) -> Response`` with no dependencies."""

    def get_route_handler(self) -> Handler:
        """The endpoint itself; refused at start-up unless it takes exactly the request."""
        endpoint = self.endpoint
        parameters = list(inspect.signature(endpoint).parameters)
        if not inspect.iscoroutinefunction(endpoint) or len(parameters) != 1:
            raise TypeError(f"{self.path}: a DirectRoute endpoint is async and takes the request")
        if self.dependant.dependencies:
            raise TypeError(f"{self.path}: a DirectRoute would skip its declared dependencies")
        handler: Handler = endpoint
        return handler
