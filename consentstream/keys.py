"""API keys: random, shown once, stored only as a hash; each carries the role it may act as."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes

from schemas.rows import ApiKeyRow, ApiRole

KEY_PREFIX = "cs_"


def hash_key(plaintext: str) -> str:
    """SHA-256 of a key; keys carry 256 random bits, so a fast hash is enough."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(plaintext.encode())
    return digest.finalize().hex()


def new_key(role: ApiRole) -> tuple[str, ApiKeyRow]:
    """A fresh key (to show once) and the row to store."""
    key_id = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKeyRow(
        key_hash=hash_key(plaintext), key_id=key_id, role=role, created_at=datetime.now(UTC)
    )
    return plaintext, row
