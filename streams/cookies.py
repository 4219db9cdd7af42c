"""The cookie catalogue: which consent category each cookie of the website needs.

Loaded once at start from ``data/cookie-catalogue.yaml`` (see its header); the pipeline asks it
for a cookie's declared category when it records cookie observations. Names are exact, or a
prefix ending in ``*``; the exact name wins, then the longest prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from schemas.catalogue import CookieCatalogueFile

UNKNOWN = "unknown"


class CatalogueError(ValueError):
    """The catalogue file is missing or malformed: the worker refuses to start."""


@dataclass(frozen=True)
class CookieCatalogue:
    """Declared categories by exact name and by prefix."""

    exact: Mapping[str, str] = field(default_factory=dict)
    prefixes: tuple[tuple[str, str], ...] = ()

    def category_of(self, name: str) -> str:
        """The declared category of a cookie, or ``"unknown"`` when the catalogue lacks it."""
        if name in self.exact:
            return self.exact[name]
        for prefix, category in self.prefixes:
            if name.startswith(prefix):
                return category
        return UNKNOWN


def parse_catalogue(text: str) -> CookieCatalogue:
    """Build the catalogue from the YAML text; :class:`CatalogueError` when it is invalid."""
    try:
        parsed = CookieCatalogueFile.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise CatalogueError(f"invalid cookie catalogue: {exc}") from exc
    exact = {e.name: e.category for e in parsed.cookies if not e.name.endswith("*")}
    prefixes = sorted(
        ((e.name[:-1], e.category) for e in parsed.cookies if e.name.endswith("*")),
        key=lambda item: -len(item[0]),
    )
    return CookieCatalogue(exact, tuple(prefixes))


def load_catalogue(path: Path) -> CookieCatalogue:
    """Read and parse the catalogue file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cookie catalogue not readable at {path}: {exc}") from exc
    return parse_catalogue(text)
