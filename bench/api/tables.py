"""A table panel asked with every group (as before ``top``), and its top-N answer cut from every
stored group (as before the leads), against the page's top-N ask."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from services.api import leads
from services.api.ui import dashboard

Ask = Callable[[], Coroutine[Any, Any, Any]]


def rows_of(answer: Any) -> int:
    """Rows a usage answer returns: its groups and one "other" per bucket."""
    return sum(len(b.groups) + 1 for b in answer.buckets)


def every_group(
    runner: asyncio.Runner,
    label: str,
    panel: str,
    asks: tuple[Ask, Ask],
    took: tuple[float, float],
    base: float,
) -> list[dict[str, Any]]:
    """Print and return the every-group p50/p95 (``took``, ms) and the rows of both asks."""
    top, every = asks
    rows_top, rows_all = rows_of(runner.run(top())), rows_of(runner.run(every()))
    name = f"panel {panel}, {label}"
    print(
        f"  {label:<18} {panel + ' (all)':<18}{'':9}{took[0]:9.1f}{took[1]:9.1f} ms"
        f"  rows: {rows_all:,} every group, {rows_top:,} with top={dashboard.TOP}",
        flush=True,
    )
    return [
        {"what": f"{name}, every group, p95", "value": round(took[1], 1), "unit": "ms"}
        | {"baseline": round(base, 1)},
        {"what": f"{name}, rows, every group", "value": rows_all, "unit": "rows"},
        {"what": f"{name}, rows, top {dashboard.TOP}", "value": rows_top, "unit": "rows"},
    ]


def without_leads(ask: Ask) -> Ask:
    """``ask`` with the stored leads out of use: the top-N answer is cut from every stored
    group of the range (one read of the latest computations), as before leads were kept."""

    async def asked() -> Any:
        kept, leads.LEAD = leads.LEAD, 0
        try:
            return await ask()
        finally:
            leads.LEAD = kept

    return asked


def from_groups(label: str, panel: str, took: tuple[float, float], base: float) -> dict[str, Any]:
    """Print and return the p50/p95 (``took``, ms) of the top-N ask without the leads."""
    print(
        f"  {label:<18} {panel + ' (groups)':<18}{'':9}{took[0]:9.1f}{took[1]:9.1f} ms", flush=True
    )
    return {
        "what": f"panel {panel}, {label}, top from every group, p95",
        "value": round(took[1], 1),
    } | {
        "unit": "ms",
        "baseline": round(base, 1),
    }
