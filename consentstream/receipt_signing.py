"""Signing deletion receipts with Ed25519, and checking them, via ``cryptography``.

The receipt key setting (``CONSENTSTREAM_RECEIPT_SIGNING_KEY``) is a random secret like the
other keys; the Ed25519 private key is derived from it with HKDF-SHA256, so ``consentstream up``
and an operator make it the same way as every other key. Only the public key leaves the
service: anyone can check a receipt with it (the API publishes it as PEM with its key id), and
no one without the secret can make one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .receipts import ALGORITHM, canonical

_HKDF_INFO = b"consentstream deletion receipt signing key v1"
SIGNATURE_BYTES = 64


def key_id(public: Ed25519PublicKey) -> str:
    """A short name of a public key: the first 16 hex digits of SHA-256 over its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), what ``openssl`` and every library read."""
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(text: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError when the text is not one."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError("the PEM key is not an Ed25519 public key")
    return public


class ReceiptSigner:
    """Signs receipt bodies with the private key derived from the receipt signing secret."""

    def __init__(self, secret: str) -> None:
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            secret.encode("utf-8")
        )
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self.public = self._private.public_key()
        self.key_id = key_id(self.public)

    def sign(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The signed file: the body, its signature (base64), the key id and the algorithm."""
        signature = self._private.sign(canonical(body))
        return {
            "receipt": dict(body),
            "signature": base64.b64encode(signature).decode("ascii"),
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
        }


@dataclass(frozen=True)
class Verdict:
    """Whether a signed receipt checks out under a public key, and if not, why."""

    valid: bool
    reason: str
    key_id: str


def verify(
    receipt: Mapping[str, Any], signature: str, algorithm: str, public: Ed25519PublicKey
) -> Verdict:
    """Check a receipt body's signature under ``public``; never raises for bad input."""
    expected = key_id(public)
    if algorithm != ALGORITHM:
        return Verdict(False, f"algorithm {algorithm!r} is not {ALGORITHM}", expected)
    raw = _signature_bytes(signature)
    if raw is None:
        return Verdict(False, f"signature is not base64 of {SIGNATURE_BYTES} bytes", expected)
    try:
        message = canonical(receipt)
    except (ValueError, TypeError, RecursionError) as exc:
        return Verdict(False, f"receipt has no canonical form: {exc}", expected)
    try:
        public.verify(raw, message)
    except InvalidSignature:
        return Verdict(False, "signature does not match the receipt under this key", expected)
    return Verdict(True, "signature matches the receipt", expected)


def verify_file(signed: Mapping[str, Any], public: Ed25519PublicKey) -> Verdict:
    """Check a whole signed file; a key id other than the public key's is named in the reason."""
    receipt, signature = signed.get("receipt"), signed.get("signature")
    algorithm = signed.get("algorithm")
    if not isinstance(receipt, Mapping) or not isinstance(signature, str):
        return Verdict(False, "not a signed receipt (receipt and signature)", key_id(public))
    verdict = verify(receipt, signature, str(algorithm), public)
    named = signed.get("key_id")
    if not verdict.valid and named != verdict.key_id:
        reason = f"{verdict.reason} (signed with key {named!r}, checked with {verdict.key_id})"
        return Verdict(False, reason, verdict.key_id)
    return verdict


def _signature_bytes(signature: str) -> bytes | None:
    """The raw signature when ``signature`` is the one canonical base64 spelling of 64 bytes."""
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return None
    if len(raw) != SIGNATURE_BYTES or base64.b64encode(raw).decode("ascii") != signature:
        return None  # also refuses a spelling that differs only in unused bits
    return raw
