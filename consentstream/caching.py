"""In-process caches for values computed from personal data, bounded in size and in age.

A plain ``functools.lru_cache`` keyed by a raw IP, a visitor id or the day's salt keeps that
key in memory for as long as the process lives when traffic is low: a visitor-hash salt
would then outlive the 48 hours after which nothing may recompute a day's hashes, and a raw
IP would stay in memory for days. :func:`expiring_lru_cache` drops every entry once the
cache is ``max_age_seconds`` old (at the next call), so no entry is ever older than that
while the process is in use; :data:`PERSONAL_CACHE_SECONDS` (one hour) is the age every such
cache of the project uses, far inside the 48-hour promise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from functools import lru_cache, partial, wraps
from typing import Any, Generic, TypeVar

from consentstream.identity import pseudonymize

R = TypeVar("R")
PERSONAL_CACHE_SECONDS = 3600.0


class ExpiringCache(Generic[R]):
    """A function's results, cached by ``lru_cache`` and all dropped when ``max_age`` passed."""

    def __init__(
        self,
        func: Callable[..., R],
        maxsize: int,
        max_age_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cached = lru_cache(maxsize=maxsize)(func)
        self._max_age = max_age_seconds
        self._clock = clock
        self._started = clock()
        wraps(func)(self)

    def __call__(self, *args: Hashable) -> R:
        """``func(*args)``, from the cache when computed within the current age window."""
        now = self._clock()
        if now - self._started >= self._max_age:
            self._cached.cache_clear()
            self._started = now
        return self._cached(*args)

    def cache_clear(self) -> None:
        """Drop every entry now."""
        self._cached.cache_clear()
        self._started = self._clock()

    @property
    def max_age_seconds(self) -> float:
        """The longest any entry is kept."""
        return self._max_age

    def cache_size(self) -> int:
        """How many entries the cache holds."""
        return self._cached.cache_info().currsize


def expiring_lru_cache(
    maxsize: int,
    max_age_seconds: float = PERSONAL_CACHE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Callable[..., R]], ExpiringCache[R]]:
    """Decorator: like ``lru_cache(maxsize)``, and no entry outlives ``max_age_seconds``."""

    def decorate(func: Callable[..., R]) -> ExpiringCache[R]:
        return ExpiringCache(func, maxsize, max_age_seconds, clock)

    return decorate


def cached_pseudonymizer(
    key: str,
    maxsize: int = 65_536,
    max_age_seconds: float = PERSONAL_CACHE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> ExpiringCache[str]:
    """:func:`~consentstream.identity.pseudonymize` under ``key``, cached by raw visitor id.

    An HMAC costs tens of microseconds and a visitor sends many events in a row; the raw ids
    the cache holds are dropped every ``max_age_seconds``.
    """
    func: Callable[..., Any] = partial(pseudonymize, key=key)
    return ExpiringCache(func, maxsize, max_age_seconds, clock)
