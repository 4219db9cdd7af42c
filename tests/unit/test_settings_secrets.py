"""Keys anyone can read are refused: outside test mode a placeholder or short key stops start."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from consentstream.settings import DEV_PLACEHOLDER, MIN_SECRET_BYTES
from services.api.config import ApiSettings
from services.collector.config import CollectorSettings
from streams.config import WorkerSettings

STRONG = secrets.token_urlsafe(48)


@pytest.fixture(autouse=True)
def _no_inherited_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start from no CONSENTSTREAM_* at all (the suite runs in test mode)."""
    for name in (
        "ENVIRONMENT",
        "PSEUDONYM_KEY",
        "RECEIPT_KEY",
        "AUDIT_KEY",
        "MASTER_KEY",
        "RECEIPT_SIGNING_KEY",
    ):
        monkeypatch.delenv(f"CONSENTSTREAM_{name}", raising=False)


@pytest.mark.parametrize("environment", ["development", "production"])
@pytest.mark.parametrize("settings", [CollectorSettings, ApiSettings, WorkerSettings])
@pytest.mark.parametrize("weak", [DEV_PLACEHOLDER, "", "short-key", "x" * (MIN_SECRET_BYTES - 1)])
def test_weak_pseudonym_keys_are_refused_outside_test_mode(
    settings: type[WorkerSettings], environment: str, weak: str
) -> None:
    with pytest.raises(ValidationError, match="pseudonym_key must be a random secret"):
        settings(environment=environment, pseudonym_key=weak, receipt_key=STRONG, audit_key=STRONG)


@pytest.mark.parametrize("settings", [CollectorSettings, ApiSettings])
def test_the_default_receipt_key_is_refused_outside_test_mode(
    settings: type[CollectorSettings],
) -> None:
    with pytest.raises(ValidationError, match="receipt_key must be a random secret"):
        settings(pseudonym_key=STRONG, audit_key=STRONG, master_key=STRONG)


@pytest.mark.parametrize("settings", [ApiSettings, WorkerSettings])
def test_the_default_receipt_signing_key_is_refused_outside_test_mode(
    settings: type[WorkerSettings],
) -> None:
    with pytest.raises(ValidationError, match="receipt_signing_key must be a random secret"):
        settings(pseudonym_key=STRONG, receipt_key=STRONG, audit_key=STRONG, master_key=STRONG)
    built = settings(
        pseudonym_key=STRONG,
        receipt_key=STRONG,
        audit_key=STRONG,
        master_key=STRONG,
        receipt_signing_key=STRONG,
    )
    assert built.environment == "development"


def test_nothing_set_refuses_to_start_and_says_how_to_fix_it() -> None:
    with pytest.raises(ValidationError) as refused:
        CollectorSettings()
    message = str(refused.value)
    assert "CONSENTSTREAM_PSEUDONYM_KEY" in message and "consentstream up" in message


def test_random_keys_of_32_bytes_or_more_are_accepted() -> None:
    key = "k" * MIN_SECRET_BYTES
    built = CollectorSettings(
        environment="production",
        pseudonym_key=key,
        receipt_key=STRONG,
        audit_key=STRONG,
        master_key=STRONG,
    )
    assert built.pseudonym_key.get_secret_value() == key


@pytest.mark.parametrize("settings", [CollectorSettings, ApiSettings, WorkerSettings])
def test_the_default_audit_key_is_refused_outside_test_mode(
    settings: type[CollectorSettings],
) -> None:
    with pytest.raises(ValidationError, match="audit_key must be a random secret"):
        settings(pseudonym_key=STRONG, receipt_key=STRONG, master_key=STRONG)


def test_test_mode_allows_placeholders_and_short_keys() -> None:
    built = CollectorSettings(environment="test")
    assert built.receipt_key.get_secret_value() == DEV_PLACEHOLDER
    assert ApiSettings(environment="test", pseudonym_key="short").environment == "test"


@pytest.mark.parametrize("settings", [CollectorSettings, WorkerSettings])
@pytest.mark.parametrize("weak", [DEV_PLACEHOLDER, "x" * (MIN_SECRET_BYTES - 1)])
def test_a_weak_master_key_is_refused_outside_test_mode(
    settings: type[CollectorSettings], weak: str
) -> None:
    """The master key wraps every data key: a public one would open every sealed message."""
    with pytest.raises(ValidationError, match="master_key must be a random secret"):
        settings(
            environment="production",
            pseudonym_key=STRONG,
            receipt_key=STRONG,
            audit_key=STRONG,
            master_key=weak,
        )
