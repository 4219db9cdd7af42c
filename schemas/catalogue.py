"""The cookie catalogue file (``data/cookie-catalogue.yaml``): every cookie the site sets.

The stream worker reads it to flag unknown cookies; the collector serves it to the snippet,
which deletes the cookies of a category the visitor withdraws. Names are exact, or a prefix
ending in ``*``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["necessary", "analytics", "marketing", "preferences"]


class CookieEntry(BaseModel):
    """One cookie (or a name prefix ending in ``*``), its consent category and purpose."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    category: Category
    purpose: str = ""
    # Shown in the banner's second layer, so the visitor knows who sets it and for how long.
    service: str = Field(
        "", max_length=120, description="The service that sets it; empty: the site itself."
    )
    vendor: str = Field("", max_length=200, description="Who runs the service.")
    retention: str = Field("", max_length=80, description="How long the cookie is kept, in words.")


class CookieCatalogueFile(BaseModel):
    """The whole catalogue file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1]
    cookies: list[CookieEntry]
