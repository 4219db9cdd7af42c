"""Redis clients built from settings: one Redis, or a Redis Cluster, for every process.

``CONSENTSTREAM_REDIS_URL`` names the Redis; with ``CONSENTSTREAM_REDIS_CLUSTER=true`` it names
any one node of a Redis Cluster instead, and the client learns the other nodes from it and
follows slot moves (redis-py's ``RedisCluster``, the same URL forms: ``redis://``, ``rediss://``,
credentials in the URL). Every key the product writes is hash-tagged
(:mod:`consentstream.redis_keys`), so its scripts and pipelines touch one slot at a time.

Locks are the exception: they always live on a single Redis
(:attr:`CommonSettings.redis_url_for_locks`: ``CONSENTSTREAM_REDIS_LOCK_URL``, else the main
URL when that is not a cluster; :func:`consentstream.audit.lock_client` opens it). A cluster
replicates asynchronously, so a lock taken on a master that fails over before replicating can
be taken a second time by another process, which would fork the audit chain or file one
subject's request twice. One primary that is down refuses the lock instead (the audited action
answers 503), which is the failure those callers are written for.

The async factory's result is typed as ``redis.asyncio.Redis``, the type the product's functions
take: ``RedisCluster`` serves the same calls (the cluster tests run those functions on it), and
the few places that must differ (the dedupe script, split per hash tag) check for it.
"""

from __future__ import annotations

from typing import Any, cast

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.cluster import RedisCluster as SyncRedisCluster

from consentstream.settings import CommonSettings


def async_client(settings: CommonSettings, **options: Any) -> Redis:
    """The process's asyncio client of the deployment's Redis (or Redis Cluster).

    ``options`` go to every connection (``socket_timeout``, ``socket_connect_timeout``, ...).
    """
    if settings.redis_cluster:
        return cast(Redis, RedisCluster.from_url(settings.redis_url, **options))
    return Redis.from_url(settings.redis_url, **options)


def sync_client(settings: CommonSettings, **options: Any) -> SyncRedis:
    """A blocking client of the deployment's Redis (or Redis Cluster), for the CLI's batch work."""
    if settings.redis_cluster:
        return cast(SyncRedis, SyncRedisCluster.from_url(settings.redis_url, **options))
    return SyncRedis.from_url(settings.redis_url, **options)


def keystore_client(settings: CommonSettings, **options: Any) -> Redis:
    """The asyncio client of the key store: a Redis of its own when ``KEYSTORE_URL`` names one,
    else the deployment's Redis (or Redis Cluster: each data key is tagged by its subject)."""
    if settings.keystore_url:
        return Redis.from_url(settings.keystore_url, **options)
    return async_client(settings, **options)
