"""README.md tells the truth about settings: its table is the one the settings classes make."""

from __future__ import annotations

from pathlib import Path

from ops.settings_doc import markdown

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- settings:start -->\n", "<!-- settings:end -->"


def test_settings_table_matches_the_settings_classes() -> None:
    text = README.read_text()
    assert START in text and END in text, "README lost its settings markers"
    shown = text.split(START, 1)[1].split(END, 1)[0]
    assert shown == markdown(), "README settings table is stale: run python -m ops.settings_doc"
