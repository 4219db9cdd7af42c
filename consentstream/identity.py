"""Keyed pseudonyms and signatures: the only crypto the pipeline needs, via ``cryptography``.

A visitor id is never stored; its HMAC under a server key is. The same key in the collector,
worker and API lets a privacy request find the subject's rows without keeping the raw id.
"""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac


def _mac(key: bytes, message: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(message)
    return mac.finalize()


def pseudonymize(visitor_id: str, key: str) -> str:
    """Stable keyed pseudonym of a visitor id (hex, 32 chars): same input and key, same output."""
    return _mac(key.encode(), b"visitor:" + visitor_id.encode()).hex()[:32]


def sign(payload: bytes, key: str) -> str:
    """URL-safe signature of ``payload`` under ``key``."""
    return base64.urlsafe_b64encode(_mac(key.encode(), payload)).decode().rstrip("=")


def verify(payload: bytes, signature: str, key: str) -> bool:
    """True when ``signature`` was made by :func:`sign` with the same key and payload."""
    mac = hmac.HMAC(key.encode(), hashes.SHA256())
    mac.update(payload)
    padded = signature + "=" * (-len(signature) % 4)
    try:
        mac.verify(base64.urlsafe_b64decode(padded.encode()))
    except (InvalidSignature, ValueError):
        return False
    return True


def visitor_token(visitor_id: str, expires_at: int, key: str) -> str:
    """A token proving "this browser was given this visitor id", valid until ``expires_at``.

    The visitor presents it with a self-service privacy request; ``expires_at`` is Unix seconds.
    """
    payload = _token_payload(visitor_id, expires_at)
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{sign(payload, key)}"


def read_visitor_token(token: str, key: str, now: int) -> str | None:
    """The visitor id a token was issued for, or None when forged, malformed or expired."""
    body, _, signature = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode((body + "=" * (-len(body) % 4)).encode())
        prefix, visitor_id, expires = payload.decode().split("\n")
        expires_at = int(expires)
    except ValueError:
        return None
    if prefix != "visitor-token" or not verify(payload, signature, key) or expires_at <= now:
        return None
    return visitor_id


def _token_payload(visitor_id: str, expires_at: int) -> bytes:
    # a distinct prefix: a receipt signed with the same key can never pass as a visitor token
    return f"visitor-token\n{visitor_id}\n{expires_at}".encode()
