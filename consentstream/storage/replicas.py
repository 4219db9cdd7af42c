"""Cluster mode: mutations sent once per shard, and confirmations asked of every replica.

ClickHouse 18.16 has no ``clusterAllReplicas``, so each replica is asked by itself
(:meth:`Storage.on_every_replica`). Deletions on replicated tables are not sent ``ON CLUSTER``:
an ``ALTER ... DELETE`` on any one replica enters the shard's replication log and every replica
applies it, while 18.16's DDL queue kills its worker thread when both replicas of a shard race
for the same ``ON CLUSTER`` ALTER ("Node exists"), and waits on nodes that are down. Completion
is judged by the rows themselves: 18.16 leaves ``system.mutations.is_done`` at 0 on a replica
restarted after the mutation, even once its parts are mutated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from consentstream.storage.base import Storage
from consentstream.storage.errors import MutationTimeout, StorageUnavailable

_POLL_SECONDS = 0.2
REACHABLE = "SELECT 1 AS ok"


def mutate_each_shard(storage: Storage, statement: str, params: Mapping[str, Any]) -> None:
    """Run a mutation on one reachable replica of every shard; the shard's log does the rest."""
    chosen: dict[int, str] = {}
    shards: set[int] = set()
    for answer in storage.on_every_replica(REACHABLE):
        shards.add(answer.shard)
        if answer.rows is not None:
            chosen.setdefault(answer.shard, answer.address)
    if missing := sorted(shards - set(chosen)):
        raise StorageUnavailable(f"no replica of shard(s) {missing} reachable")
    answers = storage.on_every_replica(statement, params, only=set(chosen.values()))
    if any(answer.rows is None for answer in answers):
        raise StorageUnavailable("a replica went away while the mutation was sent")


def count_per_shard(storage: Storage, statement: str, params: Mapping[str, Any]) -> int:
    """A ``count() AS n`` summed over shards, each at its fullest replica; every replica must
    answer (nothing is confirmed while one is down)."""
    per_shard: dict[int, int] = {}
    for answer in storage.on_every_replica(statement, params):
        if answer.rows is None:
            raise StorageUnavailable(f"replica {answer.address} unreachable; count unconfirmed")
        count = int(answer.rows[0]["n"])
        per_shard[answer.shard] = max(per_shard.get(answer.shard, 0), count)
    return sum(per_shard.values())


def wait_until_zero(
    storage: Storage, statement: str, params: Mapping[str, Any], timeout: float
) -> None:
    """Block until every replica of every shard counts zero, or raise MutationTimeout."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = [
            answer.address
            for answer in storage.on_every_replica(statement, params)
            if answer.rows is None or int(answer.rows[0]["n"])
        ]
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise MutationTimeout(
                f"rows still present or unconfirmed after {timeout:.0f}s on {', '.join(waiting)}"
            )
        time.sleep(_POLL_SECONDS)
