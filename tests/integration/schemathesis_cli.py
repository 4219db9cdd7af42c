"""Run the schemathesis CLI, every check and phase, against a running service; no tests here.

The CLI is what a site owner runs (``schemathesis run URL/openapi.json --checks all``), so the
tests run it the same way, bounded by ``--max-examples``, with ``schemathesis.toml`` beside this
module saying which statuses the services may answer where OpenAPI cannot say it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG = Path(__file__).with_name("schemathesis.toml")
CLI = str(Path(sys.executable).parent / "schemathesis")
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass
class Run:
    """What one CLI run did: its JSON report and its console output."""

    report: dict[str, Any]
    output: str

    def summary(self) -> str:
        cases = self.report["test_cases"]
        ops = self.report["operations"]
        return (
            f"{ops['tested']} operations, {cases['generated']} cases,"
            f" {cases['unique_failures']} failures"
        )


def run_all_checks(
    url: str, tmp: Path, max_examples: int, headers: dict[str, str] | None = None
) -> Run:
    """``schemathesis run {url}/openapi.json --checks all`` with every phase; the JSON report."""
    report = tmp / "schemathesis.json"
    command = [CLI, "--config-file", str(CONFIG), "run", f"{url}/openapi.json"]
    command += ["--checks", "all", "--phases", ",".join(PHASES)]
    command += ["--max-examples", str(max_examples), "--no-color"]
    command += ["--report", "json", "--report-json-path", str(report)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, cwd=tmp
    )
    return Run(json.loads(report.read_text()), done.stdout + done.stderr)


def assert_clean(run: Run, operations: int) -> None:
    """Every operation tested in every phase that has cases, and no finding of any check."""
    report, tail = run.report, run.output[-6000:]
    assert report["exit_code"] == 0, tail
    assert report["operations"]["tested"] == operations, tail
    assert report["test_cases"]["unique_failures"] == 0, tail
    assert report["errors"] == [], tail
    failed = [
        name for name, p in report["phases"].items() if p["status"] not in ("success", "skip")
    ]
    assert failed == [], tail
    assert report["phases"]["stateful"]["status"] == "success", tail
    # the stateful phase followed every link the document declares, from real responses
    links = re.search(r"API Links:\s+(\d+) covered / \d+ selected / (\d+) total", run.output)
    assert links is not None and links[1] == links[2] != "0", tail
