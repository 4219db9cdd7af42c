"""Redis client construction from settings: one Redis, or a Redis Cluster with locks kept apart."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from consentstream import redis_client
from consentstream.settings import CommonSettings

NODE = "redis://127.0.0.1:7000/0"
LOCKS = "redis://127.0.0.1:6379/0"


def settings(**values: object) -> CommonSettings:
    return CommonSettings.model_validate({"environment": "test", **values})


async def test_a_cluster_gets_a_cluster_client_and_a_single_redis_a_plain_one() -> None:
    cluster = redis_client.async_client(
        settings(redis_url=NODE, redis_cluster=True, redis_lock_url=LOCKS)
    )
    single = redis_client.async_client(settings(redis_url=NODE))
    assert isinstance(cluster, RedisCluster) and not isinstance(single, RedisCluster)
    assert isinstance(single, Redis)
    await cluster.aclose()
    await single.aclose()


def test_locks_stay_on_one_redis() -> None:
    assert settings(redis_url=NODE).redis_url_for_locks == NODE
    clustered = settings(redis_url=NODE, redis_cluster=True, redis_lock_url=LOCKS)
    assert clustered.redis_url_for_locks == LOCKS


def test_a_cluster_without_a_lock_redis_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="redis_lock_url.*grant a lock twice"):
        settings(redis_url=NODE, redis_cluster=True)


def test_a_cluster_url_naming_another_database_is_refused() -> None:
    with pytest.raises(ValidationError, match="database 0"):
        settings(redis_url="redis://127.0.0.1:7000/3", redis_cluster=True, redis_lock_url=LOCKS)
