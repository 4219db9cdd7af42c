"""Deletion receipts: what they cover, and a signature anyone can check with the public key."""

from __future__ import annotations

import base64
import copy
import json
import string
from typing import Any

import pytest

from consentstream import receipts
from consentstream.receipt_signing import (
    ReceiptSigner,
    key_id,
    load_public_pem,
    public_pem,
    verify_file,
)

SECRET = "receipt-signing-secret-for-unit-tests-only-0123"
STORES = {
    "clickhouse.usage_events": {"before": 3, "after": 0},
    "redis.consent": {"before": 1, "after": 0},
}
KEPT = {"clickhouse.privacy_requests": 1, "clickhouse.audit_log": 2}


def body(**sections: Any) -> dict[str, Any]:
    return receipts.build(
        "0" * 32,
        started_at="2026-11-30T09:00:00+00:00",
        finished_at="2026-11-30T09:00:01+00:00",
        milliseconds=1000,
        stores=STORES,
        kept=KEPT,
        **sections,
    )


@pytest.fixture(scope="module")
def signer() -> ReceiptSigner:
    return ReceiptSigner(SECRET)


def test_verified_zero_only_when_every_store_is_empty_after() -> None:
    assert body()["verified_zero"] is True
    left = {**STORES, "redis.consent-history": {"before": 1, "after": 1}}
    built = receipts.build("k", started_at="", finished_at="", milliseconds=0, stores=left, kept={})
    assert built["verified_zero"] is False


def test_kept_names_every_kept_store_with_the_policys_exception() -> None:
    kept = body()["kept"]
    assert set(kept) == set(receipts.KEPT)
    assert kept["clickhouse.audit_log"]["count"] == 2 and kept["redis.suppressed"]["count"] == 0
    assert {k["exception"] for k in kept.values()} == {"comply with the law"}
    with pytest.raises(ValueError, match="no reason recorded"):
        receipts.kept_section({"clickhouse.usage_events": 1})


def test_another_store_adds_its_section_in_one_line() -> None:
    built = body(kafka={"key_destroyed": True}, processors={"crm": "confirmed"})
    assert built["kafka"] == {"key_destroyed": True} and built["processors"]["crm"]
    with pytest.raises(ValueError, match="already in the body"):
        body(verified_zero=True)


def test_canonical_form_is_sorted_compact_utf8_and_integers_only() -> None:
    assert (
        receipts.canonical({"b": 1, "a": ["é", True, None]})
        == '{"a":["é",true,null],"b":1}'.encode()
    )
    with pytest.raises(ValueError, match="integers only"):
        receipts.canonical({"seconds": 0.5})


def test_a_signed_receipt_verifies_with_the_published_public_key(signer: ReceiptSigner) -> None:
    signed = signer.sign(body())
    assert set(signed) == {"receipt", "signature", "key_id", "algorithm"}
    assert signed["algorithm"] == "Ed25519" and signed["key_id"] == signer.key_id
    published = load_public_pem(public_pem(signer.public))  # what a third party holds
    assert key_id(published) == signed["key_id"]
    assert verify_file(signed, published).valid
    reindented = json.loads(json.dumps(signed, indent=4, sort_keys=False))
    assert verify_file(reindented, published).valid, "layout of the file is not signed"


def test_one_changed_byte_in_the_body_fails(signer: ReceiptSigner) -> None:
    signed = signer.sign(body())
    text = json.dumps(signed["receipt"])
    for original, changed in (('"before": 3', '"before": 4'), ("T09:", "T08:"), ('"000', '"100')):
        altered = {**signed, "receipt": json.loads(text.replace(original, changed, 1))}
        assert not verify_file(altered, signer.public).valid, changed
    tampered = copy.deepcopy(signed)
    tampered["receipt"]["stores"]["clickhouse.usage_events"]["after"] = 1
    assert "does not match" in verify_file(tampered, signer.public).reason


def test_every_single_changed_character_of_the_signature_fails(signer: ReceiptSigner) -> None:
    signed = signer.sign(body())
    signature = signed["signature"]
    alphabet = string.ascii_letters + string.digits + "+/="
    for at, char in enumerate(signature):
        other = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        altered = {**signed, "signature": signature[:at] + other + signature[at + 1 :]}
        assert not verify_file(altered, signer.public).valid, at
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 1
    flipped = {**signed, "signature": base64.b64encode(bytes(raw)).decode()}
    assert not verify_file(flipped, signer.public).valid


def test_another_key_or_algorithm_is_named_in_the_reason(signer: ReceiptSigner) -> None:
    signed = signer.sign(body())
    other = ReceiptSigner(SECRET + "-other")
    verdict = verify_file(signed, other.public)
    assert not verdict.valid and signer.key_id in verdict.reason and other.key_id in verdict.reason
    assert "not Ed25519" in verify_file({**signed, "algorithm": "HS256"}, signer.public).reason
    assert not verify_file({"receipt": "x", "signature": 1}, signer.public).valid


def test_the_key_is_derived_from_the_secret_the_same_way_every_time() -> None:
    assert ReceiptSigner(SECRET).key_id == ReceiptSigner(SECRET).key_id
    assert ReceiptSigner(SECRET).key_id != ReceiptSigner(SECRET + "x").key_id
    with pytest.raises(ValueError, match="not a PEM"):
        load_public_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
