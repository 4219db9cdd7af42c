"""API keys: random, shown once, stored only as a hash; every create, revoke and role change is
written to the audit chain before it takes effect (need-to-know access has to be provable)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes

from consentstream.storage.repository import Repository
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


class KeyAudit(Protocol):
    """The part of :class:`consentstream.audit.AuditLog` that key changes need."""

    def append(
        self, actor: str, role: str, action: str, target: str, detail: dict[str, Any]
    ) -> Any:
        """Chain one entry; raises when it cannot (and then nothing may happen)."""


def create_key(repo: Repository, audit: KeyAudit, role: ApiRole, actor: str) -> str:
    """Create, audit and store a key; returns the plaintext to show once.

    The audit entry comes first: when the chain cannot take it, no key exists either.
    """
    plaintext, row = new_key(role)
    audit.append(actor, "admin", "key.create", row.key_id, {"role": role})
    repo.save_api_key(row)
    return plaintext


def revoke_key(repo: Repository, audit: KeyAudit, key_id: str, actor: str) -> bool:
    """Audit and revoke a key by its public id; False (nothing audited) when there is none."""
    if not any(row.key_id == key_id for row in repo.list_api_keys()):
        return False
    audit.append(actor, "admin", "key.revoke", key_id, {})
    return repo.revoke_api_key(key_id)


def change_role(repo: Repository, audit: KeyAudit, key_id: str, role: ApiRole, actor: str) -> bool:
    """Audit and change a key's role; False (nothing audited) when there is no such key."""
    current = [row for row in repo.list_api_keys() if row.key_id == key_id]
    if not current:
        return False
    detail = {"from": current[-1].role, "to": role}
    audit.append(actor, "admin", "key.role", key_id, detail)
    return repo.set_api_key_role(key_id, role)
