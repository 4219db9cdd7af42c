"""The deletion webhook contract between consentstream and the service providers it directs.

When a subject is erased, every processor listed in the data map (``processors:``) receives a
signed JSON request naming the privacy request and the subject's pseudonym. The signature is
an HMAC-SHA256 over ``"{timestamp}.{body}"`` with the secret shared with that processor (in the
manner of Stripe's webhook signatures), so a processor can check both who sent the request and
that it is fresh (the replay window). :func:`verify_signature` is the reference check a
processor implements; README's privacy section describes the contract in full.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

SIGNATURE_HEADER = "Consentstream-Signature"
DELIVERY_HEADER = "Consentstream-Delivery"
ATTEMPT_HEADER = "Consentstream-Attempt"
SIGNATURE_SCHEME = "v1"
REPLAY_WINDOW_SECONDS = 300
BODY_VERSION = 1

DeliveryStatus = Literal["pending", "confirmed", "failed"]


class SignatureInvalid(ValueError):
    """A webhook request whose signature header is missing, malformed, stale or wrong."""


class ProcessorEntry(BaseModel):
    """A service provider acting on our behalf that must be told to delete a subject."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="Short unique name; its secret is CONSENTSTREAM_PROCESSOR_SECRETS[name].",
    )
    description: str = Field(min_length=1, max_length=500)
    deletion_url: str = Field(max_length=2000, description="Where deletion requests are POSTed.")

    @field_validator("deletion_url")
    @classmethod
    def _plain_web_address(cls, url: str) -> str:
        # Credentials in the URL would end up in logs; a fragment is never sent anyway.
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        if parts.username or parts.password or parts.fragment:
            raise ValueError("must carry no credentials and no #fragment")
        return url


class ProcessorsFile(BaseModel):
    """The ``processors`` list of the data map (the rest of the file is the API's concern)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    processors: list[ProcessorEntry] = Field(default_factory=list)

    @field_validator("processors")
    @classmethod
    def _unique_names(cls, processors: list[ProcessorEntry]) -> list[ProcessorEntry]:
        names = [p.name for p in processors]
        if len(names) != len(set(names)):
            raise ValueError("processor names must be unique")
        return processors


def load_processors(path: Path) -> list[ProcessorEntry]:
    """The processors the data map at ``path`` lists; a malformed list stops the caller."""
    return ProcessorsFile.model_validate(
        yaml.safe_load(path.read_text(encoding="utf-8"))
    ).processors


def check_deployable(
    processors: list[ProcessorEntry], secrets: Mapping[str, str], test: bool
) -> None:
    """Refuse processors without a secret, or reached over plain http outside the test suites.

    A deletion request names a subject: over plain http anyone on the path could read or
    replay it, so only the test suites (local receivers on loopback) may use http.
    """
    for processor in processors:
        if processor.name not in secrets:
            raise ValueError(
                f"processor {processor.name!r} has no secret: add it to"
                " CONSENTSTREAM_PROCESSOR_SECRETS (a JSON object name -> secret)"
            )
        if not test and urlsplit(processor.deletion_url).scheme != "https":
            raise ValueError(f"processor {processor.name!r}: deletion_url must use https")


def deletion_body(
    delivery_id: str, request_id: str, subject_key: str, requested_at: datetime
) -> bytes:
    """The JSON body of a deletion request, byte for byte what is signed and sent.

    The subject is named by its keyed pseudonym: the identifier every row we hold and every
    copy we hand a processor carries, never the raw visitor id or IP.
    """
    body = {
        "version": BODY_VERSION,
        "type": "deletion",
        "delivery_id": delivery_id,
        "request_id": request_id,
        "subject": {"kind": "pseudonym", "id": subject_key},
        "requested_at": requested_at.isoformat(),
    }
    return orjson.dumps(body)


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={_mac(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SIGNATURE_SCHEME:
            macs.append(value)
    if timestamp is None or not macs:
        raise SignatureInvalid("signature header needs t=<seconds> and v1=<hex>")
    return timestamp, macs


def verify_signature(
    secret: str, header: str | None, body: bytes, now: float, tolerance: int = REPLAY_WINDOW_SECONDS
) -> int:
    """Check a request as a processor must; returns its timestamp or raises SignatureInvalid.

    Several ``v1=`` values are accepted so a secret can be rotated without a gap.
    """
    if not header:
        raise SignatureInvalid(f"no {SIGNATURE_HEADER} header")
    timestamp, macs = _parse(header)
    if abs(now - timestamp) > tolerance:
        raise SignatureInvalid("timestamp outside the replay window")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, mac) for mac in macs):
        raise SignatureInvalid("signature does not match")
    return timestamp


def processors_overdue(result: Mapping[str, Any] | None, now: datetime) -> list[str]:
    """Processors of a receipt still unconfirmed past their ``confirm_by`` moment.

    The receipt's ``processors`` section carries the moment each confirmation is due, so any
    reader (API, console, CLI) flags a late one without knowing the worker's settings.
    """
    body = (result or {}).get("receipt", result)  # a signed file holds the body under "receipt"
    section = body.get("processors") if isinstance(body, Mapping) else None
    if not isinstance(section, Mapping):
        return []
    late = []
    for name, entry in section.items():
        if not isinstance(entry, Mapping) or entry.get("status") == "confirmed":
            continue
        due = entry.get("confirm_by")
        if isinstance(due, str) and datetime.fromisoformat(due) <= now:
            late.append(str(name))
    return sorted(late)
