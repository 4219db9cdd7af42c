"""Staff sessions for the pages: an API key signed in once becomes a server-side session.

The session lives in Redis under a digest of its random token (the cookie holds the token, Redis
never does), expires after the idle timeout, and each use extends it. It stores the key's hash,
never the key, so each page can re-check that the key still exists and is not revoked. A CSRF
token is bound to the session; every state-changing form sends it back.

Sign-in attempts are counted per client in a fixed window, keyed by a keyed hash of the client
address (Redis never holds a raw IP), so the form is no unlimited oracle for guessing keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from redis import Redis

from consentstream import redis_keys

COOKIE = "cs_ui_session"
SIGNIN_COOKIE = "cs_ui_signin"
"""Double-submit token of the sign-in form, before any session exists."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_key(token: str) -> str:
    """Redis key of a session: a digest of its cookie token."""
    return f"{redis_keys.PREFIX}ui-session:{_digest(token)}"


def attempts_key(client: str, secret: str, window: int) -> str:
    """Redis key counting one client's sign-in attempts in the current window."""
    mac = hmac.new(secret.encode(), b"ui-signin:" + client.encode(), hashlib.sha256)
    return f"{redis_keys.PREFIX}ui-signin:{mac.hexdigest()[:32]}:{window}"


def same_token(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a sent CSRF token with the expected one (empty never matches)."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


@dataclass(frozen=True)
class Session:
    """A signed-in staff member: which key, its role, and the session's CSRF token."""

    token: str
    key_id: str
    key_hash: str
    role: str
    csrf: str


class SessionStore:
    """Sessions and sign-in counters in Redis (blocking: async callers use a thread)."""

    def __init__(self, redis: Redis, idle_seconds: int) -> None:
        self.redis = redis
        self.idle_seconds = idle_seconds

    def create(self, key_id: str, key_hash: str, role: str) -> Session:
        """A new session with fresh cookie and CSRF tokens."""
        session = Session(
            secrets.token_urlsafe(32), key_id, key_hash, role, secrets.token_urlsafe(32)
        )
        body = {"key_id": key_id, "key_hash": key_hash, "role": role, "csrf": session.csrf}
        self.redis.set(session_key(session.token), orjson.dumps(body), ex=self.idle_seconds)
        return session

    def touch(self, token: str) -> Session | None:
        """The session of a cookie token, its idle timer restarted; None when unknown or idle."""
        name = session_key(token)
        pipe = self.redis.pipeline()
        pipe.get(name)
        pipe.expire(name, self.idle_seconds)
        raw, _ = pipe.execute()
        if raw is None:
            return None
        body: dict[str, Any] = orjson.loads(raw)
        return Session(token, body["key_id"], body["key_hash"], body["role"], body["csrf"])

    def end(self, token: str) -> None:
        """Sign out: the session is gone at once."""
        self.redis.delete(session_key(token))

    def count_attempt(self, name: str, window_seconds: int) -> int:
        """Count one sign-in attempt under ``name``; the count in the window so far."""
        pipe = self.redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window_seconds)
        count, _ = pipe.execute()
        return int(count)
