"""Schemathesis, every check and phase, against a running API: the document tells the truth.

With an admin key (every route reachable), the API answers only statuses, bodies and content
types its OpenAPI document names, refuses what the document forbids, and the stateful phase
follows the document's links from a filed request to reading, approving, rejecting and
exporting it. The only 5xx is 503 with Retry-After (a backing service did not answer in time).
Query parameters at their extremes (years 1 and 9999, huge integers, odd unicode) are sent to
every operation too: none gets a server error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.schemathesis_cli import assert_clean, run_all_checks

from .api_harness import EXTREME_QUERY_VALUES, Api, start_api

pytestmark = pytest.mark.integration

OPERATIONS = 25  # with the visitor's own status and download routes, every usage panel and receipts
EXTREMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-02T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31",
    str(2**64),
    str(-(2**63) - 1),
    "1e308",
    "NaN",
    "\u202e\u0000\ufeff",
    "\U0001f4a9" * 200,
    "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
    "",
]


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory) -> Iterator[Api]:
    # no per-subject limit: generated subjects repeat, and a 429 is not what is under test
    yield from start_api(stack, tmp_path_factory, worker=False, access_requests_per_year="1000")


def test_schemathesis_finds_nothing(api: Api, tmp_path: Path) -> None:
    run = run_all_checks(api.url, tmp_path, max_examples=10, headers=api.headers("admin"))
    assert_clean(run, OPERATIONS)


def _query_operations(document: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            if names:
                found.append((method.upper(), path, names))
    return found


def test_query_parameters_at_extremes_get_no_server_error(api: Api) -> None:
    document = httpx.get(f"{api.url}/openapi.json", timeout=10).json()
    operations = _query_operations(document)
    assert len(operations) >= 8  # the seven usage routes, the request list, the export
    answers: dict[int, int] = {}
    with httpx.Client(base_url=api.url, headers=api.headers("admin"), timeout=30) as client:
        for method, path, names in operations:
            path = path.replace("{request_id}", "0" * 32)
            for name in names:
                for value in [*EXTREMES, *EXTREME_QUERY_VALUES]:
                    got = client.request(method, path, params={name: value})
                    answers[got.status_code] = answers.get(got.status_code, 0) + 1
                    assert got.status_code < 500 or got.status_code == 503, (
                        f"{method} {path}?{name}={value!r}: {got.status_code} {got.text}"
                    )
                    if got.status_code == 422:
                        assert name in got.json()["error"]["message"], got.text
    assert answers.get(422), answers
