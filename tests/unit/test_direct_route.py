"""DirectRoute: documented like any FastAPI route, called with the request alone."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response

from services.collector.routes.direct import DirectRoute


async def needs_something() -> None:
    """A dependency a DirectRoute would silently skip."""


def test_an_endpoint_with_dependencies_is_refused_at_start_up() -> None:
    router = APIRouter(route_class=DirectRoute)
    with pytest.raises(TypeError, match="skip its declared dependencies"):

        @router.post("/x", dependencies=[Depends(needs_something)])
        async def endpoint(request: Request) -> Response:
            return Response()


def test_an_endpoint_taking_more_than_the_request_is_refused() -> None:
    router = APIRouter(route_class=DirectRoute)
    with pytest.raises(TypeError, match="takes the request"):

        @router.get("/y")
        async def endpoint(request: Request, limit: int = 1) -> Response:
            return Response()


def test_the_route_is_still_in_the_openapi_document() -> None:
    router = APIRouter(route_class=DirectRoute)

    @router.post("/z", status_code=202, summary="Direct")
    async def endpoint(request: Request) -> Response:
        return Response(status_code=202)

    app = FastAPI()
    app.include_router(router)
    operation = app.openapi()["paths"]["/z"]["post"]
    assert operation["summary"] == "Direct" and "202" in operation["responses"]
