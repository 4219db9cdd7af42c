"""The local stack makes random keys once, keeps them private, and never replaces an operator's."""

from __future__ import annotations

import stat
from pathlib import Path

from consentstream.settings import MIN_SECRET_BYTES
from ops.stack import secrets
from ops.stack.config import StackSettings
from services.collector.config import CollectorSettings
from streams.config import WorkerSettings


def stack_in(folder: Path) -> StackSettings:
    return StackSettings(stack_dir=folder)


def test_first_start_makes_long_random_keys_readable_by_the_owner_only(tmp_path: Path) -> None:
    keys = secrets.ensure(stack_in(tmp_path / "a"))
    assert set(keys) == set(secrets.KEYS)
    assert all(len(value.encode()) >= MIN_SECRET_BYTES for value in keys.values())
    mode = stat.S_IMODE(secrets.secrets_file(stack_in(tmp_path / "a")).stat().st_mode)
    assert mode == 0o600
    assert secrets.ensure(stack_in(tmp_path / "b")) != keys, "two stacks share no keys"


def test_later_starts_keep_the_same_keys(tmp_path: Path) -> None:
    first = secrets.ensure(stack_in(tmp_path))
    assert secrets.ensure(stack_in(tmp_path)) == first
    assert secrets.read(stack_in(tmp_path)) == first


def test_the_keys_pass_the_production_check(tmp_path: Path) -> None:
    keys = secrets.ensure(stack_in(tmp_path))
    settings = CollectorSettings(
        environment="production",
        pseudonym_key=keys["CONSENTSTREAM_PSEUDONYM_KEY"],
        receipt_key=keys["CONSENTSTREAM_RECEIPT_KEY"],
        audit_key=keys["CONSENTSTREAM_AUDIT_KEY"],
        master_key=keys["CONSENTSTREAM_MASTER_KEY"],
    )
    assert settings.environment == "production"
    worker = WorkerSettings(
        environment="production",
        pseudonym_key=keys["CONSENTSTREAM_PSEUDONYM_KEY"],
        audit_key=keys["CONSENTSTREAM_AUDIT_KEY"],
        receipt_signing_key=keys["CONSENTSTREAM_RECEIPT_SIGNING_KEY"],
    )
    assert worker.environment == "production"


def test_export_never_replaces_a_key_the_environment_names(tmp_path: Path) -> None:
    own = {"CONSENTSTREAM_PSEUDONYM_KEY": "the-operator-s-own-key-" + "x" * 20}
    environ = dict(own)
    secrets.export(stack_in(tmp_path), environ, create=True)
    assert environ["CONSENTSTREAM_PSEUDONYM_KEY"] == own["CONSENTSTREAM_PSEUDONYM_KEY"]
    assert (
        environ["CONSENTSTREAM_RECEIPT_KEY"]
        == secrets.read(stack_in(tmp_path))["CONSENTSTREAM_RECEIPT_KEY"]
    )


def test_reading_a_stack_without_keys_makes_none(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    secrets.export(stack_in(tmp_path), environ, create=False)
    assert environ == {} and not secrets.secrets_file(stack_in(tmp_path)).exists()
