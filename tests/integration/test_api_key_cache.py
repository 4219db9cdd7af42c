"""Key lookups stay bounded: random bearer tokens neither grow the cache nor keep hitting storage.

The app runs in this process (real Redis and ClickHouse) so the cache and the lookups can be
counted: found keys are cached up to a size, unknown ones never are, and once an address has
used up its failed authentications it is refused before any lookup.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest

from consentstream.keys import new_key
from consentstream.settings import CommonSettings
from consentstream.storage import open_storage, sql
from schemas.rows import ApiKeyRow
from services.api.app import create_app
from services.api.config import ApiSettings
from services.api.deps import ApiState

pytestmark = pytest.mark.integration

CACHE_SIZE = 8
FAILURES_ALLOWED = 20


@pytest.fixture
def settings(stack: CommonSettings) -> Iterator[ApiSettings]:
    run = secrets.token_hex(4)
    database = f"cs_keys_{run}"
    url = f"{stack.clickhouse_url.rsplit('/', 1)[0]}/{database}"
    storage = open_storage(url)
    storage.migrate()
    try:
        yield ApiSettings(
            clickhouse_url=url,
            redis_url=stack.redis_url,
            kafka_bootstrap=stack.kafka_bootstrap,
            topic_prefix=f"keys{run}.",
            rate_limit_namespace=f"test-keys-{run}:",
            key_cache_size=CACHE_SIZE,
            key_cache_seconds=60,
            failed_auth_per_ip=FAILURES_ALLOWED,
            retention_interval_hours=0,
            usage_warm_seconds=0,
        )
    finally:
        storage.command(sql.statement(sql.DROP_DATABASE, database))
        storage.close()


Scenario = Callable[[httpx.AsyncClient, ApiState, list[str]], Awaitable[None]]


@asynccontextmanager
async def serving(settings: ApiSettings) -> AsyncIterator[tuple[httpx.AsyncClient, ApiState]]:
    """The app with its lifespan run, reached from one documentation address."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client, app.state.api


def run(settings: ApiSettings, scenario: Scenario) -> None:
    """Run ``scenario`` against the app, counting every key lookup that reaches storage."""

    async def main() -> None:
        async with serving(settings) as (client, state):
            lookups: list[str] = []
            state.repo.get_api_key = counted(state.repo.get_api_key, lookups)  # type: ignore[method-assign,assignment]
            await scenario(client, state, lookups)

    asyncio.run(main())


def counted(
    lookup: Callable[[str], ApiKeyRow | None], calls: list[str]
) -> Callable[[str], ApiKeyRow | None]:
    def wrapper(digest: str) -> ApiKeyRow | None:
        calls.append(digest)
        return lookup(digest)

    return wrapper


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_found_keys_are_cached_up_to_the_bound(settings: ApiSettings) -> None:
    async def scenario(client: httpx.AsyncClient, state: ApiState, lookups: list[str]) -> None:
        keys = []
        for _ in range(CACHE_SIZE + 4):
            plaintext, row = new_key("marketing")
            state.repo.save_api_key(row)
            keys.append(plaintext)
        for _ in range(2):
            for key in keys:
                got = await client.get("/v1/usage/visitors", headers=bearer(key))
                assert got.status_code == 200, got.text
        assert len(state.key_cache) == CACHE_SIZE
        assert len(lookups) == 2 * len(keys)  # least recently used first: each pass misses
        for key in keys[-CACHE_SIZE:]:
            assert (await client.get("/v1/usage/visitors", headers=bearer(key))).status_code == 200
        assert len(lookups) == 2 * len(keys)  # the last ones used are answered from the cache

    run(settings, scenario)


def test_random_tokens_neither_grow_the_cache_nor_keep_hitting_storage(
    settings: ApiSettings,
) -> None:
    async def scenario(client: httpx.AsyncClient, state: ApiState, lookups: list[str]) -> None:
        codes = []
        for _ in range(200):
            token = f"cs_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
            codes.append((await client.get("/v1/usage/pages", headers=bearer(token))).status_code)
        assert codes[:FAILURES_ALLOWED] == [401] * FAILURES_ALLOWED
        assert set(codes[FAILURES_ALLOWED:]) == {429}
        assert len(lookups) == FAILURES_ALLOWED
        assert len(state.key_cache) == 0

    run(settings, scenario)
