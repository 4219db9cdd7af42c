"""The data map (``data/data-map.yaml``): what each table holds, why, from where, for whom.

The access report the policy promises is built from this file, so a new table or purpose is
declared once, as data, and every later report carries it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from consentstream.webhooks import ProcessorsFile


class TableEntry(BaseModel):
    """What one table holds about a subject and the rules that apply to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    description: str
    categories: list[str] = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    purposes: list[str] = Field(min_length=1)
    recipients: list[str] = Field(min_length=1)
    sold: bool
    shared: bool
    retention_days: int = Field(gt=0)
    retention: str


class DataMap(ProcessorsFile):
    """The whole map, validated when the API starts (the worker reads its ``processors``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: int
    controller: str
    contact: str
    tables: dict[str, TableEntry]


def load_data_map(path: Path) -> DataMap:
    """Read and validate the map; a malformed map stops the API at start-up."""
    return DataMap.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def access_report(data_map: DataMap, data: dict[str, list[Any]]) -> dict[str, Any]:
    """The report for a subject whose stored rows are ``data`` (table → rows).

    Every table of the map is described, with how many pieces of the subject it holds, so
    the report also tells the subject where we hold nothing.
    """
    tables = {
        name: {**entry.model_dump(), "pieces": len(data.get(name, []))}
        for name, entry in data_map.tables.items()
    }
    held = [t for t in tables.values() if t["pieces"]]

    def union(field: str) -> list[str]:
        return sorted({item for table in held for item in table[field]})

    disclosures: dict[str, set[str]] = {}
    for table in held:
        for recipient in table["recipients"]:
            disclosures.setdefault(recipient, set()).update(table["categories"])

    return {
        "controller": data_map.controller,
        "contact": data_map.contact,
        "categories": union("categories"),
        "sources": union("sources"),
        "purposes": union("purposes"),
        "recipients": union("recipients"),
        "sold": any(t["sold"] for t in held),
        "shared": any(t["shared"] for t in held),
        "retention": {name: t["retention"] for name, t in tables.items()},
        "disclosures": [
            {"recipient": recipient, "categories": sorted(categories)}
            for recipient, categories in sorted(disclosures.items())
        ],
        "tables": tables,
    }
