"""The deletion receipts' public key, and checking a receipt with it: no key needed.

A receipt is meant to convince someone who does not trust this service, so both routes are
open: the public key (PEM and its key id) to check receipts with offline, and a check for
those who would rather ask. Neither reveals anything a receipt's holder does not have.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from consentstream.receipt_signing import ReceiptSigner, public_pem, verify_file
from consentstream.receipts import ALGORITHM

from ..deps import State
from ..errors import WITH_BODY, documented

router = APIRouter(prefix="/v1/receipts", tags=["receipts"])

EXAMPLE_SIGNATURE = "A" * 86 + "=="


class PublicKey(BaseModel):
    """The key deletion receipts are signed with, for anyone to check them."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    algorithm: Literal["Ed25519"]
    key_id: str = Field(description="The receipts' `key_id`: SHA-256 of the raw key, 16 hex.")
    public_key_pem: str = Field(description="The public key, PEM (SubjectPublicKeyInfo).")


class SignedReceipt(BaseModel):
    """A signed deletion receipt, exactly as downloaded."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "receipt": {"subject_key": "0" * 32, "verified_zero": True},
                    "signature": EXAMPLE_SIGNATURE,
                    "key_id": "0123456789abcdef",
                    "algorithm": ALGORITHM,
                }
            ]
        },
    )
    receipt: dict[str, Any] = Field(description="The receipt body the signature covers.")
    signature: str = Field(max_length=200, description="Ed25519 signature, base64.")
    key_id: str = Field(max_length=64, description="Which key signed it.")
    algorithm: str = Field(max_length=32, description="Always `Ed25519`.")


class Verification(BaseModel):
    """Whether the receipt's signature checks out under this service's key, and why (not)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    valid: bool
    reason: str
    key_id: str = Field(description="The key it was checked with.")


@lru_cache(maxsize=4)
def _signer(secret: str) -> ReceiptSigner:
    return ReceiptSigner(secret)


@router.get("/public-key", response_model=PublicKey, responses=documented(400))
async def public_key(state: State) -> PublicKey:
    """The public key deletion receipts are signed with (PEM) and its key id."""
    signer = _signer(state.settings.receipt_signing_key.get_secret_value())
    pem = public_pem(signer.public)
    return PublicKey(algorithm="Ed25519", key_id=signer.key_id, public_key_pem=pem)


@router.post(
    "/verify",
    response_model=Verification,
    responses=documented(400, 422, *WITH_BODY),
)
async def verify(body: SignedReceipt, state: State) -> Verification:
    """Check a signed receipt: 200 with ``valid`` and the reason either way; 422 if malformed."""
    signer = _signer(state.settings.receipt_signing_key.get_secret_value())
    verdict = verify_file(body.model_dump(), signer.public)
    return Verification(valid=verdict.valid, reason=verdict.reason, key_id=verdict.key_id)
