"""The events route answered below the router: the same answers as through it."""

from __future__ import annotations

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.types import Scope

from schemas.events import EventsAccepted, Rejection
from services.collector.fastpath import DirectEndpoint
from services.collector.routes.events import _answer


class Refused(Exception):
    """An error the app answers through its handler."""


class Unhandled(Exception):
    """An error no handler answers: the server's own 500."""


async def _echo(request: Request) -> Response:
    return Response(await request.body())


def _app() -> tuple[FastAPI, list[str]]:
    router = APIRouter()
    seen: list[str] = []

    @router.post("/v1/events", status_code=202)
    async def post(request: Request) -> Response:
        seen.append(request.scope["route"].path)
        body = await request.body()
        if body == b"refuse":
            raise Refused
        if body == b"crash":
            raise Unhandled
        return Response(b"ok:" + body, status_code=202)

    app = FastAPI(redirect_slashes=False)  # as the collector
    app.include_router(router)

    async def refused(request: Request, exc: Exception) -> Response:
        return Response(b"refused", status_code=422, headers={"X-Why": "refused"})

    app.add_exception_handler(Refused, refused)
    route = router.routes[0]
    assert isinstance(route, APIRoute)
    app.add_middleware(DirectEndpoint, route=route, method="POST", handlers=app.exception_handlers)
    return app, seen


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def test_the_route_is_answered_by_its_endpoint_with_the_route_in_the_scope() -> None:
    app, seen = _app()
    async with _client(app) as client:
        answer = await client.post("/v1/events", content=b"x")
    assert (answer.status_code, answer.content) == (202, b"ok:x")
    assert seen == ["/v1/events"]


async def test_an_error_gets_the_apps_handler_and_an_unhandled_one_the_servers_500() -> None:
    app, _ = _app()
    async with _client(app) as client:
        refused = await client.post("/v1/events", content=b"refuse")
        crashed = await client.post("/v1/events", content=b"crash")
    assert (refused.status_code, refused.headers["x-why"]) == (422, "refused")
    assert crashed.status_code == 500


async def test_other_methods_and_paths_still_go_through_the_router() -> None:
    app, seen = _app()
    async with _client(app) as client:
        wrong_method = await client.get("/v1/events")
        other_path = await client.post("/v1/events/")
    assert wrong_method.status_code == 405
    assert other_path.status_code == 404
    assert seen == []


def test_a_mounted_app_or_a_traced_request_takes_the_routers_path() -> None:
    app, _ = _app()
    route = APIRoute("/v1/events", _echo, methods=["POST"])
    direct = DirectEndpoint(app.router, route, "POST", {})
    plain: Scope = {"type": "http", "method": "POST", "path": "/v1/events"}
    assert direct._serves(plain)
    # The router strips a root_path, and names the request's OpenTelemetry span.
    assert not direct._serves({**plain, "root_path": "/collector"})
    assert not direct._serves({**plain, "fastapi.telemetry": object()})
    assert not direct._serves({**plain, "method": "PUT"})


@pytest.mark.parametrize("rejected", [[], [Rejection(index=3, error='ts: café\n"x"')]])
@pytest.mark.parametrize(("accepted", "duplicates"), [(0, 0), (50, 0), (1, 49)])
def test_the_answer_is_the_models_json(
    accepted: int, duplicates: int, rejected: list[Rejection]
) -> None:
    model = EventsAccepted(accepted=accepted, duplicates=duplicates, rejected=rejected)
    assert _answer(accepted, duplicates, rejected) == model.model_dump_json().encode()
    assert orjson.loads(_answer(accepted, duplicates, rejected)) == model.model_dump(mode="json")
