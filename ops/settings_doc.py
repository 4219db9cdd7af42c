"""The README's settings table, generated from the settings classes so it cannot drift.

``python -m ops.settings_doc`` prints it; a unit test checks the README holds it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from consentstream.settings import CommonSettings
from services.api.config import ApiSettings
from services.collector.config import CollectorSettings
from streams.config import WorkerSettings

ROOT = Path(__file__).resolve().parents[1]


def _deployables() -> dict[str, type[BaseSettings]]:
    return {"collector": CollectorSettings, "worker": WorkerSettings, "API": ApiSettings}


def _default(cls: type[BaseSettings], name: str) -> str:
    field = cls.model_fields[name]
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, SecretStr):
        return "dev placeholder"
    if isinstance(value, Path):  # shown relative to the checkout, not this machine's path
        value = value.relative_to(ROOT) if value.is_relative_to(ROOT) else value
    text = json.dumps(value) if isinstance(value, list) else str(value)
    return f"`{text}`" if text else "empty"


def rows() -> list[tuple[str, str, str, str]]:
    """(variable, default, used by, description) for every setting of every deployable."""
    users: dict[str, list[str]] = {}
    owner: dict[str, type[BaseSettings]] = {}
    for label, cls in _deployables().items():
        for name in cls.model_fields:
            users.setdefault(name, []).append(label)
            owner.setdefault(name, cls)
    table = []
    for name, labels in users.items():
        used_by = "all" if name in CommonSettings.model_fields else ", ".join(labels)
        cls = owner[name]
        description = (cls.model_fields[name].description or "").replace("|", "\\|")
        table.append((f"`CONSENTSTREAM_{name.upper()}`", _default(cls, name), used_by, description))
    return table


def markdown() -> str:
    """The table as Markdown."""
    lines = ["| variable | default | used by | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| {v} | {d} | {u} | {m} |" for v, d, u, m in rows()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
