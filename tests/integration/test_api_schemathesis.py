"""Schemathesis against the API's own OpenAPI with an admin key: nothing yields a 5xx.

The one 5xx the contract has is 503 ``unavailable`` with ``Retry-After`` when Kafka or
ClickHouse does not answer in time (it happens on a loaded shared stack); any other 5xx fails.

Cases are drawn from each operation's strategy with hypothesis directly (as for the
collector): schemathesis's ``pytest.from_fixture`` reads a node attribute pytest 9 lacks.
Besides the cases schemathesis makes, each query parameter is also set to values at the edges
(years 1 and 9999 with offsets, huge numbers, odd unicode), which it rarely draws by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .test_api_harness import EXTREME_QUERY_VALUES, Api, start_api

pytestmark = pytest.mark.integration

MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory) -> Iterator[Api]:
    # no per-subject limit: generated subjects repeat, and a 429 is not what is under test
    yield from start_api(stack, tmp_path_factory, worker=False, access_requests_per_year="1000")


@pytest.fixture(scope="module")
def api_schema(api: Api) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api.url}/openapi.json")


def at_the_edges(operation: Any, names: list[str]) -> st.SearchStrategy[Any]:
    """Valid cases of ``operation`` with one query parameter set to an extreme value."""

    def with_extreme(case: Any, name: str, value: str) -> Any:
        case.query = {**(case.query or {}), name: value}
        return case

    return st.builds(
        with_extreme,
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        st.sampled_from(names),
        st.sampled_from(EXTREME_QUERY_VALUES),
    )


def query_names(schema: schemathesis.BaseSchema, path: str, method: str) -> list[str]:
    """The query parameter names the OpenAPI document gives an operation."""
    params = schema.raw_schema["paths"][path][method.lower()].get("parameters", [])
    return [p["name"] for p in params if p["in"] == "query"]


def labels(schema: schemathesis.BaseSchema) -> list[str]:
    paths: dict[str, dict[str, Any]] = schema.raw_schema["paths"]
    return sorted(f"{method.upper()} {path}" for path, ops in paths.items() for method in ops)


def test_no_request_yields_a_server_error(api: Api, api_schema: schemathesis.BaseSchema) -> None:
    operations = labels(api_schema)
    assert len(operations) == 16
    for label in operations:
        method, path = label.split(" ")
        operation = api_schema[path][method]
        strategies = [operation.as_strategy(generation_mode=mode) for mode in MODES]
        if names := query_names(api_schema, path, method):
            strategies.append(at_the_edges(operation, names))
        cases = st.one_of(*strategies)

        @given(case=cases)
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def call(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=api.headers("admin"))
            if response.status_code < 500:
                return
            body = response.json()
            assert response.status_code == 503, f"{case.method} {case.path}: {body}"
            assert body["error"]["code"] == "unavailable" and response.headers["Retry-After"]

        call()
