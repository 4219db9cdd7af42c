"""Schemathesis against the collector's own OpenAPI: nothing a client can send yields a 5xx.

Cases are drawn from each operation's strategy with hypothesis directly: schemathesis's
``pytest.from_fixture`` reads a node attribute pytest 9 no longer has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from consentstream.settings import CommonSettings
from tests.integration.test_collector import running_collector

pytestmark = pytest.mark.integration

OPERATIONS = [
    "POST /v1/events",
    "POST /v1/consent",
    "GET /v1/consent/{visitor_id}",
    "GET /snippet.js",
    "GET /snippet.css",
    "GET /snippet/cookies.json",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
]
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]


@pytest.fixture(scope="module")
def collector_schema(
    stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[schemathesis.BaseSchema]:
    """A live collector (no rate limit: every generated request comes from one address)."""
    with running_collector(
        tmp_path_factory.mktemp("schemathesis"),
        stack,
        rate_limit_per_second="0",
        dedupe_ttl_seconds="300",
    ) as collector:
        yield schemathesis.openapi.from_url(f"{collector.url}/openapi.json")


def test_every_operation_is_exercised(collector_schema: schemathesis.BaseSchema) -> None:
    labels = {result.ok().label for result in collector_schema.get_all_operations()}  # type: ignore[union-attr]
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_request_yields_a_server_error(
    collector_schema: schemathesis.BaseSchema, label: str
) -> None:
    method, path = label.split(" ")
    operation = collector_schema[path][method]
    cases = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in MODES))

    @given(case=cases)
    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def call(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(checks=[not_a_server_error])

    call()
