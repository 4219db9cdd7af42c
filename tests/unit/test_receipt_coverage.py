"""The receipt covers every store holding a subject's data: a new table or key kind is not missed.

Which stores an erasure empties, and which it keeps, is declared beside the data (the table
definitions, the Redis key builders); these tests fail when a subject-keyed table or key kind is
in neither list, and run the erasure itself (over stand-ins) to see every one in the receipt.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from consentstream import receipts, redis_keys
from consentstream.storage import sql
from streams import privacy_jobs

KEY = "ab" * 16


def subject_keyed_tables() -> set[str]:
    """Tables with a column naming a subject, read from the table definitions."""
    return {
        table
        for table, columns in sql.COLUMNS.items()
        if any(name in sql.SUBJECT_COLUMNS for name, _ in columns)
    }


def key_kinds() -> set[str]:
    """Every key kind redis_keys spells, found by calling each builder."""
    kinds = set()
    for name, builder in inspect.getmembers(redis_keys, inspect.isfunction):
        if builder.__module__ != redis_keys.__name__ or name in {"key", "tag_of", "group_by_tag"}:
            continue
        arguments = ["x"] * len(inspect.signature(builder).parameters)
        kinds.add(builder(*arguments).split(":")[1])
    return kinds


def test_every_subject_keyed_table_is_erased_or_kept_with_a_reason() -> None:
    covered = set(sql.SUBJECT_TABLES) | set(sql.KEPT_TABLES)
    missing = subject_keyed_tables() - covered
    assert not missing, f"tables holding subject data but not in the receipt: {missing}"
    assert set(sql.KEPT_COUNTS) == set(sql.KEPT_TABLES)
    for table in sql.SUBJECT_TABLES:  # erased by visitor_key
        assert "visitor_key" in sql.column_names(table), table
    for table, column in sql.KEPT_TABLES.items():
        assert column in sql.column_names(table), table
        assert f"clickhouse.{table}" in receipts.KEPT, f"no reason for keeping {table}"


def test_every_redis_key_kind_is_classified() -> None:
    classified = (
        set(redis_keys.ERASED_SUBJECT_KINDS)
        | set(redis_keys.ERASED_DECISION_KINDS)
        | set(redis_keys.KEPT_SUBJECT_KINDS)
        | set(redis_keys.SHREDDED_KINDS)
        | set(redis_keys.NOT_SUBJECT_DATA)
    )
    assert key_kinds() == classified
    for kind in redis_keys.KEPT_SUBJECT_KINDS:
        assert f"redis.{kind}" in receipts.KEPT, f"no reason for keeping {kind}"


class StandInRepo:
    """Counts like the repository: one row per subject table until deleted."""

    def __init__(self) -> None:
        self.deleted = False

    def subject_consent_ids(self, key: str) -> list[str]:
        return ["c-1"]

    def count_subject(self, key: str) -> dict[str, int]:
        return dict.fromkeys(sql.SUBJECT_TABLES, 0 if self.deleted else 1)

    def delete_subject(self, key: str) -> dict[str, int]:
        counts = self.count_subject(key)
        self.deleted = True
        return counts

    def count_kept(self, key: str) -> dict[str, int]:
        return dict.fromkeys(sql.KEPT_TABLES, 1)


class StandInRedis:
    """The few async commands the erasure uses, over a dict."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys

    async def set(self, name: str, value: Any) -> None:
        self.keys[name] = value

    async def exists(self, name: str) -> int:
        return int(name in self.keys)

    async def delete(self, name: str) -> None:
        self.keys.pop(name, None)

    async def hkeys(self, name: str) -> list[bytes]:
        return [field.encode() for field in self.keys.get(name, {})]


def test_the_erasures_receipt_names_every_store_once() -> None:
    history = redis_keys.consent_history(KEY)
    redis = StandInRedis(
        {
            redis_keys.consent(KEY): b"{}",
            history: {"c-2": b"{}"},
            redis_keys.consent_decision("c-1"): b"{}",
            redis_keys.consent_decision("c-2"): b"{}",
        }
    )

    async def forget(key: str) -> int:
        return 0

    shredded: list[str] = []

    async def shred(key: str) -> dict[str, object]:
        shredded.append(key)  # once before the suppression mark, once after: a key only once
        return {"data_key_destroyed": len(shredded) == 1}

    body = asyncio.run(
        privacy_jobs.erase(StandInRepo(), redis, KEY, forget, shred=shred)  # type: ignore[arg-type]
    )
    assert shredded == [KEY, KEY], "the key is destroyed before and after the mark"
    assert body["kafka"] == {"data_key_destroyed": True, "data_keys_destroyed": 1}, (
        "the key destruction is in the receipt"
    )
    stores = body["stores"]
    for table in subject_keyed_tables() - set(sql.KEPT_TABLES):
        assert stores[f"clickhouse.{table}"] == {"before": 1, "after": 0}
    for table in sql.KEPT_TABLES:
        assert body["kept"][f"clickhouse.{table}"]["count"] == 1
    assert stores["redis.consent"] == {"before": 1, "after": 0}
    assert stores["redis.consent-history"] == {"before": 1, "after": 0}, "counted once"
    assert stores["redis.consent-decision"] == {"before": 2, "after": 0}
    assert body["kept"]["redis.suppressed"]["count"] == 1
    assert body["verified_zero"] is True
    assert set(redis.keys) == {redis_keys.suppressed(KEY)}
