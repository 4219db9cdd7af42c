"""Deletion receipts: one body built from every store's section, then signed with Ed25519.

A receipt is what the subject, or a regulator, keeps as proof of an erasure: per store, how
many of the subject's records there were before and after, and what was kept and why. Whoever
adds a store to the erasure adds one section to :func:`build`; the signature comes last, over
the whole body, so no section can be added after signing.

The signed file a third party checks::

    {"receipt": {...}, "signature": "<base64, 64 bytes>", "key_id": "<16 hex>",
     "algorithm": "Ed25519"}

The signature covers the *canonical* bytes of ``receipt``: JSON with keys sorted, no
whitespace (``","`` and ``":"``), non-ASCII characters as UTF-8 (not ``\\u`` escapes). So the
file may be re-indented or re-ordered and still verify, and any change to a value does not.
Numbers are integers only: how a float is written differs between JSON libraries, which would
make the canonical bytes depend on the verifier's language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

ALGORITHM = "Ed25519"

POLICY_EXCEPTION = "comply with the law"
"""The privacy policy's deletion exception (its own words) under which records are kept."""

KEPT: Mapping[str, str] = {
    "clickhouse.privacy_requests": "the deletion request itself and its outcome: proof that the"
    " request was answered, and in time",
    "clickhouse.audit_log": "who in staff acted on the subject's data and when; the entries"
    " are links of a hash chain that proves no record was altered",
    "clickhouse.legal_holds": "holds placed on or released from the subject's data, and why",
    "clickhouse.processor_deliveries": "the deletion requests sent to service providers and"
    " their answers: proof that each was directed to delete",
    "redis.suppressed": "the mark that the subject was erased, so events and consent still in"
    " flight are refused instead of stored again",
}
"""Every store whose records about the subject an erasure keeps on purpose, and why."""


def kept_section(counts: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """The receipt's ``kept`` section: per kept store, its count, the policy exception, why."""
    unknown = set(counts) - set(KEPT)
    if unknown:
        raise ValueError(f"no reason recorded for keeping {', '.join(sorted(unknown))}")
    return {
        store: {"count": counts.get(store, 0), "exception": POLICY_EXCEPTION, "why": why}
        for store, why in KEPT.items()
    }


def build(
    subject_key: str,
    *,
    started_at: str,
    finished_at: str,
    milliseconds: int,
    stores: Mapping[str, Mapping[str, int]],
    kept: Mapping[str, int],
    **sections: Any,
) -> dict[str, Any]:
    """The receipt body: per-store counts, what was kept, and any further named sections.

    ``stores`` maps a store name (``clickhouse.<table>``, ``redis.<kind>``) to its ``before``
    and ``after`` counts; ``verified_zero`` holds only when every ``after`` is zero. A further
    section (e.g. ``kafka`` for key destruction, ``processors`` for service providers' deletion
    confirmations) is one keyword argument; it may not reuse a name the body already has.
    """
    body: dict[str, Any] = {
        "subject_key": subject_key,
        "started_at": started_at,
        "finished_at": finished_at,
        "milliseconds": milliseconds,
        "stores": {name: dict(counts) for name, counts in sorted(stores.items())},
        "verified_zero": all(counts["after"] == 0 for counts in stores.values()),
        "suppressed": True,
        "kept": kept_section(kept),
    }
    clash = set(sections) & set(body)
    if clash:
        raise ValueError(f"receipt section {', '.join(sorted(clash))} is already in the body")
    body.update(sections)
    return body


def canonical(body: Mapping[str, Any]) -> bytes:
    """The bytes a receipt's signature covers (sorted keys, compact, UTF-8, integers only)."""
    _refuse_floats(body)
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _refuse_floats(value: object) -> None:
    if isinstance(value, float):
        raise ValueError("a receipt holds integers only: a float's JSON spelling is not canonical")
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_floats(item)
