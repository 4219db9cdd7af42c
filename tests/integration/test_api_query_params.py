"""Every query parameter of every route refuses hostile values with a 422 that names it.

Years 1 and 9999 with offsets used to overflow while being moved to UTC (a 500); huge numbers
and odd unicode must be refused the same way, on every parameter the API has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.api.app import create_app
from services.api.config import ApiSettings

from .api_harness import EXTREME_QUERY_VALUES, Api, start_api

pytestmark = pytest.mark.integration

A_REQUEST_ID = "0" * 32


def names_in(dependant: Dependant) -> set[str]:
    """The query parameter names of a route and of every dependency it has."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= names_in(sub)
    return names


def endpoints(routes: Iterable[Any]) -> Iterator[tuple[str, set[str], Dependant]]:
    """(path, methods, dependant) of every endpoint, also through included routers.

    FastAPI 0.165 keeps an included router as one entry whose endpoints are its candidates.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield route.path, route.methods or set(), route.dependant
        candidates = getattr(route, "effective_candidates", None)
        for context in candidates() if candidates else []:
            yield context.path, context.methods, context.dependant


def query_params() -> list[tuple[str, str, str]]:
    """(method, path, query name) for every query parameter of every API route."""
    out = []
    for path, methods, dependant in endpoints(create_app(ApiSettings()).routes):
        if not path.startswith("/v1/"):
            continue  # the staff pages answer people (a sign-in redirect), not API clients
        for name in sorted(names_in(dependant)):
            out += [(method, path, name) for method in sorted(methods)]
    return sorted(set(out))


PARAMS = query_params()


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory) -> Iterator[Api]:
    yield from start_api(stack, tmp_path_factory, worker=False)


def test_the_routes_have_the_query_parameters_we_think() -> None:
    names = {name for _, _, name in PARAMS}
    assert {"from", "to", "interval", "status", "due_soon", "format"} <= names


@pytest.mark.parametrize("value", EXTREME_QUERY_VALUES)
@pytest.mark.parametrize(("method", "path", "name"), PARAMS)
def test_an_extreme_query_value_gets_422_naming_the_field(
    api: Api, method: str, path: str, name: str, value: str
) -> None:
    encoded = value if value.startswith("%") else quote(value, safe="")
    url = f"{api.url}{path.replace('{request_id}', A_REQUEST_ID)}?{name}={encoded}"
    got = httpx.request(method, url, headers=api.headers("admin"), timeout=30)
    assert got.status_code == 422, f"{method} {path}?{name}={value!r}: {got.text}"
    error = got.json()["error"]
    assert error["code"] == "invalid_request"
    assert f"query.{name}" in error["message"], error["message"]
