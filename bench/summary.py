"""One table from the JSON lines that the benchmarks of a run appended to ``$BENCH_RESULTS``.

    .venv/bin/python -m bench.summary RESULTS.jsonl

Each row shows the figure, the baseline measured in the same run (where the benchmark has one)
and the ratio to it, the figure per calibration unit (see ``bench.calibration``), the target and
the verdict; the calibration of every benchmark run is printed above the table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.calibration import Calibration


def _number(value: float, unit: str) -> str:
    if unit in ("events/s", "events"):
        return f"{value:,.0f} {unit}"
    return f"{value:,.3g} {unit}" if value < 10 else f"{value:,.1f} {unit}"


def rows(lines: list[dict[str, Any]]) -> list[list[str]]:
    """Table rows: what, measured, baseline, ratio, per calibration unit, target, verdict."""
    table = []
    for line in lines:
        for fig in line["figures"]:
            base = fig.get("baseline")
            ratio = ""
            if base:
                # Throughputs read best as a share of the baseline, times as a multiple of it.
                share = fig["value"] / base
                ratio = f"{share:.1%}" if fig["unit"].startswith("events") else f"{share:.1f}×"
            per_unit = f"{fig['per_unit']:,.1f}" if "per_unit" in fig else ""
            met = fig.get("met")
            verdict = "" if met is None else ("met" if met else "NOT met")
            table.append(
                [
                    fig["what"],
                    _number(fig["value"], fig["unit"]),
                    _number(base, fig["unit"]) if base else "",
                    ratio,
                    per_unit,
                    fig.get("target", ""),
                    verdict,
                ]
            )
    return table


def render(lines: list[dict[str, Any]]) -> str:
    """The calibration lines and a Markdown table of every figure."""
    out = []
    for line in lines:
        out.append(f"{line['bench']:<10} {Calibration(**line['calibration']).line()}")
    header = ["what", "measured", "baseline (same run)", "ratio", "per cal. unit", "target", ""]
    out += ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows(lines)]
    return "\n".join(out)


def main() -> None:
    path = Path(sys.argv[1])
    lines = [json.loads(text) for text in path.read_text().splitlines() if text.strip()]
    print(render(lines))


if __name__ == "__main__":
    main()
