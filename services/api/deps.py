"""API dependencies: state from the lifespan, and role checks from the bearer key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from consentstream.audit import AuditLog
from consentstream.kafka import EventProducer
from consentstream.keys import hash_key
from consentstream.storage.repository import Repository
from consentstream.topics import Topics
from schemas.rows import ApiKeyRow, ApiRole

from .config import ApiSettings
from .datamap import DataMap
from .errors import Forbidden, Unauthorized


@dataclass
class ApiState:
    """Clients the lifespan opens, the data map, and a short cache of key lookups."""

    settings: ApiSettings
    topics: Topics
    repo: Repository
    producer: EventProducer
    audit: AuditLog
    data_map: DataMap
    key_cache: dict[str, tuple[float, ApiKeyRow | None]] = field(default_factory=dict)

    async def lookup_key(self, plaintext: str) -> ApiKeyRow | None:
        """The stored key row for a presented key, cached for ``key_cache_seconds``."""
        digest = hash_key(plaintext)
        hit = self.key_cache.get(digest)
        now = time.monotonic()
        if hit and now - hit[0] < self.settings.key_cache_seconds:
            return hit[1]
        row = await asyncio.to_thread(self.repo.get_api_key, digest)
        self.key_cache[digest] = (now, row)
        return row


async def get_state(request: Request) -> ApiState:
    """The state the lifespan stored on the app (async: FastAPI runs a sync one in a thread)."""
    state: ApiState = request.app.state.api
    return state


State = Annotated[ApiState, Depends(get_state)]
bearer = HTTPBearer(auto_error=False, description="An API key made by `consentstream keys create`")


def require(*roles: ApiRole) -> Callable[..., Coroutine[Any, Any, ApiKeyRow]]:
    """Dependency admitting only keys with one of ``roles`` (admin is always admitted)."""

    async def check(
        state: State,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiKeyRow:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("send Authorization: Bearer <key>")
        row = await state.lookup_key(credentials.credentials)
        if row is None or row.revoked:
            raise Unauthorized("unknown or revoked key")
        if row.role != "admin" and row.role not in roles:
            raise Forbidden(f"role {row.role!r} may not do this; needs {' or '.join(roles)}")
        return row

    return check


PrivacyKey = Annotated[ApiKeyRow, Depends(require("privacy"))]
"""Per-visitor data: the privacy role (and admin)."""
MarketingKey = Annotated[ApiKeyRow, Depends(require("marketing"))]
"""Aggregates only: the marketing role (and admin); never per-visitor data."""
