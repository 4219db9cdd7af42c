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
from functools import lru_cache, partial, update_wrapper
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from consentstream.identity import pseudonymize

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
PERSONAL_CACHE_SECONDS = 3600.0


@runtime_checkable
class ExpiringCache(Protocol[R_co]):
    """A function's results, cached by ``lru_cache`` and all dropped when ``max_age`` passed."""

    max_age_seconds: float
    """The longest any entry is kept."""

    def __call__(self, *args: Hashable) -> R_co:
        """``func(*args)``, from the cache when computed within the current age window."""

    def cache_clear(self) -> None:
        """Drop every entry now."""

    def cache_size(self) -> int:
        """How many entries the cache holds."""


def _expiring(
    func: Callable[..., R], maxsize: int, max_age_seconds: float, clock: Callable[[], float]
) -> ExpiringCache[R]:
    # A closure, not a class with __call__: it sits on the worker's per-event path, and a
    # method call with attribute lookups costs several times the lru_cache hit it guards.
    cached = lru_cache(maxsize=maxsize)(func)
    expires = clock() + max_age_seconds

    def call(*args: Hashable) -> R:
        nonlocal expires
        if clock() >= expires:
            cached.cache_clear()
            expires = clock() + max_age_seconds
        return cached(*args)

    def cache_clear() -> None:
        nonlocal expires
        cached.cache_clear()
        expires = clock() + max_age_seconds

    update_wrapper(call, func)
    wrapper = cast(ExpiringCache[R], call)
    wrapper.max_age_seconds = max_age_seconds
    wrapper.cache_clear = cache_clear  # type: ignore[method-assign]
    wrapper.cache_size = lambda: cached.cache_info().currsize  # type: ignore[method-assign]
    return wrapper


def expiring_lru_cache(
    maxsize: int,
    max_age_seconds: float = PERSONAL_CACHE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Callable[..., R]], ExpiringCache[R]]:
    """Decorator: like ``lru_cache(maxsize)``, and no entry outlives ``max_age_seconds``."""

    def decorate(func: Callable[..., R]) -> ExpiringCache[R]:
        return _expiring(func, maxsize, max_age_seconds, clock)

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
    return _expiring(func, maxsize, max_age_seconds, clock)
