"""Two API processes filing for one subject at once still keep its yearly access limit."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.processes import Pipeline, free_port, wait_http

from .api_harness import Api, start_api

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_apis(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, str]]:
    for api in start_api(stack, tmp_path_factory, worker=False):
        port = free_port()
        env = {**api.env, "CONSENTSTREAM_API_PORT": str(port)}
        other = Pipeline(env, "", f"http://127.0.0.1:{port}")
        proc = other.start("api", "services.api", tmp_path_factory.mktemp("api2"))
        try:
            wait_http(f"{other.api_url}/healthz", proc)
            yield api, other.api_url
        finally:
            other.stop("api")


def test_concurrent_access_requests_across_processes_respect_the_limit(
    two_apis: tuple[Api, str],
) -> None:
    api, other_url = two_apis
    visitor = f"intake_{secrets.token_hex(6)}"
    body = {"type": "access", "subject": {"visitor_id": visitor}}
    headers = api.headers("privacy")

    def file(n: int) -> int:
        url = api.url if n % 2 == 0 else other_url
        got = httpx.post(f"{url}/v1/privacy/requests", json=body, headers=headers, timeout=60)
        return got.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = Counter(pool.map(file, range(8)))
    assert codes == {202: 2, 429: 6}, codes
    filed = [r for r in api.repo.list_privacy_requests() if r.subject_key == api.subject(visitor)]
    assert len(filed) == 2
