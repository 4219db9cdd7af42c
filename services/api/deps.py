"""API dependencies: state from the lifespan, and role checks from the bearer key."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from consentstream.audit import AuditLog
from consentstream.kafka import EventProducer
from consentstream.keys import KEY_PREFIX, hash_key
from consentstream.storage.repository import Repository
from consentstream.topics import Topics
from schemas.rows import ApiKeyRow, ApiRole

from .config import ApiSettings
from .datamap import DataMap
from .errors import Forbidden, Unauthorized
from .guard import Guard
from .keycache import KeyCache
from .privacy.casework import Casework

KEY_SHAPE = re.compile(re.escape(KEY_PREFIX) + r"[0-9a-f]{8}_[A-Za-z0-9_-]{43}")
"""What :func:`consentstream.keys.new_key` makes; anything else is refused without a lookup."""


@dataclass
class ApiState:
    """Clients the lifespan opens, the data map, the rate limits and a short key cache."""

    settings: ApiSettings
    topics: Topics
    repo: Repository
    producer: EventProducer
    audit: AuditLog
    data_map: DataMap
    guard: Guard
    key_cache: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        self.key_cache = KeyCache(self.settings.key_cache_size, self.settings.key_cache_seconds)

    def casework(self) -> Casework:
        """The privacy casework service over this process's clients and policy."""
        policy = self.settings.privacy_policy
        return Casework(self.repo, self.audit, self.producer, self.topics, policy)

    async def lookup_key(self, plaintext: str) -> ApiKeyRow | None:
        """The stored key row for a presented key; found keys are cached (bounded, short)."""
        if not KEY_SHAPE.fullmatch(plaintext):  # cannot be a key: no query for it
            return None
        digest = hash_key(plaintext)
        row = self.key_cache.get(digest)
        if row is None:
            row = await asyncio.to_thread(self.repo.get_api_key, digest)
            if row is not None:
                self.key_cache.put(digest, row)
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
        request: Request,
        state: State,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiKeyRow:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("send Authorization: Bearer <key>")
        ip = state.guard.client_ip(request)
        await state.guard.refuse_if_failing(ip)
        row = await state.lookup_key(credentials.credentials)
        if row is None or row.revoked:
            await state.guard.failed(ip)
            raise Unauthorized("unknown or revoked key")
        if row.role != "admin" and row.role not in roles:
            raise Forbidden(f"role {row.role!r} may not do this; needs {' or '.join(roles)}")
        await state.guard.per_key(row.key_id)
        return row

    return check


PrivacyKey = Annotated[ApiKeyRow, Depends(require("privacy"))]
"""Per-visitor data: the privacy role (and admin)."""
MarketingKey = Annotated[ApiKeyRow, Depends(require("marketing"))]
"""Aggregates only: the marketing role (and admin); never per-visitor data."""
