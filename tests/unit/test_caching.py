"""Caches keyed by raw IPs, salts or visitor ids forget them within the hour, far inside 48 h.

The visitor hash's salt may not be recomputable after 48 hours, and no raw IP or visitor id
may sit in a worker's memory for days because traffic was low.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from consentstream.caching import (
    PERSONAL_CACHE_SECONDS,
    ExpiringCache,
    cached_pseudonymizer,
    expiring_lru_cache,
)
from consentstream.identity import pseudonymize
from streams import minimize

ROOT = Path(__file__).resolve().parents[2]
SALT_PROMISE_SECONDS = 48 * 3600
# Parameter names that mean the cache key holds personal data or a salt.
PERSONAL = {"ip", "salt", "visitor_id", "vid", "user_agent"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_cache(clock: Clock, max_age: float = 60.0) -> tuple[ExpiringCache[str], list[str]]:
    seen: list[str] = []

    @expiring_lru_cache(maxsize=100, max_age_seconds=max_age, clock=clock)
    def upper(ip: str) -> str:
        seen.append(ip)
        return ip.upper()

    return upper, seen


def test_a_cached_value_is_served_within_its_age() -> None:
    clock = Clock()
    upper, seen = counting_cache(clock)
    assert upper("198.51.100.7") == upper("198.51.100.7") == "198.51.100.7"
    clock.now += 59
    upper("198.51.100.7")
    assert seen == ["198.51.100.7"]


def test_every_entry_is_forgotten_once_the_cache_is_older_than_its_max_age() -> None:
    clock = Clock()
    upper, seen = counting_cache(clock)
    for ip in ("198.51.100.7", "203.0.113.9", "2001:db8::1"):
        upper(ip)
    assert upper.cache_size() == 3
    clock.now += 60
    upper("192.0.2.1")
    assert upper.cache_size() == 1  # the three earlier IPs are gone, not only the one asked
    upper("198.51.100.7")
    assert seen.count("198.51.100.7") == 2


def test_the_pseudonymizer_gives_the_same_pseudonyms_and_forgets_raw_ids() -> None:
    clock = Clock()
    pseudonym = cached_pseudonymizer("unit-key", clock=clock)
    assert pseudonym("visitor_a") == pseudonymize("visitor_a", "unit-key")
    clock.now += PERSONAL_CACHE_SECONDS
    pseudonym("visitor_b")
    assert pseudonym.cache_size() == 1


@pytest.mark.parametrize(
    "cache",
    [minimize.truncate_ip, minimize.anonymous_visitor_hash, cached_pseudonymizer("k")],
    ids=["truncate_ip", "anonymous_visitor_hash", "pseudonymizer"],
)
def test_caches_of_personal_keys_forget_well_within_the_salt_promise(cache: object) -> None:
    assert isinstance(cache, ExpiringCache)
    assert cache.max_age_seconds <= SALT_PROMISE_SECONDS / 2


def test_no_plain_lru_cache_is_keyed_by_an_ip_salt_or_visitor_id() -> None:
    found = []
    for top in ("consentstream", "services", "streams"):
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef) and _plain_lru(node):
                    names = {a.arg for a in node.args.args}
                    if names & PERSONAL:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not found, "use consentstream.caching.expiring_lru_cache for:\n" + "\n".join(found)


def _plain_lru(node: ast.FunctionDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name) and target.id in ("lru_cache", "cache"):
            return True
        if isinstance(target, ast.Attribute) and target.attr in ("lru_cache", "cache"):
            return True
    return False
