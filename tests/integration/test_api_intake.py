"""Two API processes filing for one subject at once still keep its yearly access limit."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.api.privacy import rules
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


def file_concurrently(api: Api, other_url: str, bodies: list[dict[str, Any]]) -> list[Any]:
    """POST each body at once, alternating between the two API processes."""
    headers = api.headers("privacy")

    def file(n: int) -> Any:
        url = api.url if n % 2 == 0 else other_url
        got = httpx.post(f"{url}/v1/privacy/requests", json=bodies[n], headers=headers, timeout=60)
        return got.status_code, got.json().get("request_id")

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(file, range(len(bodies))))


def test_concurrent_repeats_across_processes_file_one_request(two_apis: tuple[Api, str]) -> None:
    api, other_url = two_apis
    visitor = f"intake_{secrets.token_hex(6)}"
    body = {"type": "deletion", "subject": {"visitor_id": visitor}}
    answers = file_concurrently(api, other_url, [body] * 8)
    assert Counter(code for code, _ in answers) == {202: 1, 200: 7}, answers
    assert len({request_id for _, request_id in answers}) == 1
    filed = [r for r in api.repo.list_privacy_requests() if r.subject_key == api.subject(visitor)]
    assert len(filed) == 1


def test_concurrent_access_requests_across_processes_respect_the_limit(
    two_apis: tuple[Api, str],
) -> None:
    api, other_url = two_apis
    visitor = f"intake_{secrets.token_hex(6)}"
    # one access request this year is done already: of the limit of 2, one is left
    done = rules.with_status(
        rules.new_request("access", api.subject(visitor), 30, "verified"), "done"
    )
    api.repo.save_privacy_request(done)
    kinds = ["access", "portability"] * 4
    bodies = [{"type": kind, "subject": {"visitor_id": visitor}} for kind in kinds]
    answers = file_concurrently(api, other_url, bodies)
    # the first filed takes the last place (its repeats answer with it); the other type is refused
    assert Counter(code for code, _ in answers) == {202: 1, 200: 3, 429: 4}, answers
    filed = [r for r in api.repo.list_privacy_requests() if r.subject_key == api.subject(visitor)]
    assert len(filed) == 2
