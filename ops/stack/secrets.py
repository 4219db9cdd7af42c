"""The local stack's own random keys, made on first start and kept in its folder (mode 0600).

The apps refuse the repository's placeholder keys (anyone could forge visitor tokens and consent
receipts with them), so ``consentstream up`` makes real ones once and every later start, CLI
command and app launched from this stack uses the same ones. A key already set in the
environment wins: an operator's own key is never replaced.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path

from ops.stack import process
from ops.stack.config import StackSettings

KEYS = (
    "CONSENTSTREAM_PSEUDONYM_KEY",
    "CONSENTSTREAM_RECEIPT_KEY",
    "CONSENTSTREAM_AUDIT_KEY",
    "CONSENTSTREAM_MASTER_KEY",
    "CONSENTSTREAM_RECEIPT_SIGNING_KEY",
)
"""Every signing and wrapping key the apps need; each gets 48 random bytes, URL-safe."""


def secrets_file(settings: StackSettings) -> Path:
    """Where the stack keeps its keys: ``<stack_dir>/secrets.env``, readable by its owner only."""
    return settings.root / "secrets.env"


def read(settings: StackSettings) -> dict[str, str]:
    """The stack's keys, or none when ``consentstream up`` has not made them yet."""
    try:
        text = secrets_file(settings).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs if name.strip() in KEYS}


def ensure(settings: StackSettings) -> dict[str, str]:
    """The stack's keys, making (and saving) any that are missing; idempotent."""
    with process.locked(settings.run_dir / "secrets.lock"):  # two `up`s make one set of keys
        keys = read(settings)
        missing = [name for name in KEYS if not keys.get(name)]
        if missing:
            keys.update({name: secrets.token_urlsafe(48) for name in missing})
            _write(secrets_file(settings), keys)
    return keys


def export(settings: StackSettings, environ: MutableMapping[str, str], *, create: bool) -> None:
    """Put the stack's keys into ``environ`` where it names none of its own."""
    keys = ensure(settings) if create else read(settings)
    for name, value in keys.items():
        environ.setdefault(name, value)


def _write(path: Path, keys: dict[str, str]) -> None:
    """Write the keys with mode 0600 from the first byte (no window where others can read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.unlink(missing_ok=True)
    handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("# consentstream local stack keys; keep private\n")
        out.writelines(f"{name}={value}\n" for name, value in sorted(keys.items()))
    os.chmod(partial, 0o600)  # whatever the umask
    partial.replace(path)
