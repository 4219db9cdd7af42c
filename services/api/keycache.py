"""A small cache of API key lookups, bounded in size and in age.

Only keys that exist are cached: an unknown token is looked up again next time, so random
tokens can neither grow this cache nor be remembered; what bounds their cost instead is the
failed-authentication limit per IP (see :mod:`services.api.limits`).
"""

from __future__ import annotations

import time
from collections import OrderedDict

from schemas.rows import ApiKeyRow


class KeyCache:
    """At most ``size`` key rows by key hash, each kept ``seconds`` (least recently used out)."""

    def __init__(self, size: int, seconds: float) -> None:
        self.size = size
        self.seconds = seconds
        self._rows: OrderedDict[str, tuple[float, ApiKeyRow]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, digest: str) -> ApiKeyRow | None:
        """The cached row for a key hash, or None when absent or older than ``seconds``."""
        hit = self._rows.get(digest)
        if hit is None:
            return None
        if time.monotonic() - hit[0] >= self.seconds:
            del self._rows[digest]
            return None
        self._rows.move_to_end(digest)
        return hit[1]

    def put(self, digest: str, row: ApiKeyRow) -> None:
        """Remember a found key, evicting the least recently used beyond ``size``."""
        if self.size <= 0 or self.seconds <= 0:
            return
        self._rows[digest] = (time.monotonic(), row)
        self._rows.move_to_end(digest)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)
