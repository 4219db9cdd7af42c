"""Schemathesis, every check and phase, against a running collector: the document tells the truth.

The statuses, bodies and content types the collector answers are the ones its OpenAPI document
names; what the document forbids is refused; the only 5xx is 503 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from consentstream.settings import CommonSettings
from tests.integration.schemathesis_cli import assert_clean, run_all_checks
from tests.integration.test_collector import Collector, running_collector

pytestmark = pytest.mark.integration

OPERATIONS = [
    "POST /v1/events",
    "POST /v1/consent",
    "GET /v1/consent",
    "GET /v1/consent/{visitor_id}",
    "GET /snippet.js",
    "GET /snippet.css",
    "GET /snippet/cookies.json",
    "GET /snippet-details.js",
    "GET /snippet-details.css",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
]


@pytest.fixture(scope="module")
def collector(
    stack: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Collector]:
    """A live collector (no rate limit: every generated request comes from one address)."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    snippet = tmp / "snippet.js"
    snippet.write_text("/* snippet */\n", encoding="utf-8")
    with running_collector(
        tmp, stack, rate_limit_per_second="0", dedupe_ttl_seconds="300", snippet_path=str(snippet)
    ) as running:
        yield running


def test_every_operation_is_documented(collector: Collector) -> None:
    document = httpx.get(f"{collector.url}/openapi.json", timeout=10).json()
    labels = {f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops}
    assert labels == set(OPERATIONS)


def test_schemathesis_finds_nothing(collector: Collector, tmp_path: Path) -> None:
    run = run_all_checks(collector.url, tmp_path, max_examples=15)
    assert_clean(run, len(OPERATIONS))
