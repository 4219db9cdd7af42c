"""Runtime class paths fetched from Maven Central once, into a cache outside git.

Kafka and ZooKeeper have no Debian package usable here and there is no Docker: ``mvn
dependency:copy-dependencies`` copies a generated POM's runtime dependencies into a scratch
folder, renamed into place at the end so an interrupted download never looks complete.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ops.stack import process
from ops.stack.base import Progress, StackError, find_executable


def ensure_jars(
    libs: Path, *, marker: str, pom: str, mvn: str, what: str, progress: Progress
) -> Path:
    """The cached jar folder ``libs``; mvn fills it from ``pom`` unless a ``marker`` jar is in."""
    libs = libs.expanduser().resolve()
    if any(libs.glob(marker)):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with process.locked(libs.parent / ".download.lock"):
        if not any(libs.glob(marker)):
            progress(f"downloading {what} jars from Maven Central (mvn)")
            _download(libs, marker=marker, pom=pom, mvn=mvn, what=what)
    return libs


def _download(libs: Path, *, marker: str, pom: str, mvn: str, what: str) -> None:
    """Run mvn into a scratch folder next to ``libs``, then move it into place."""
    mvn_path = find_executable(mvn)
    if mvn_path is None:
        raise StackError(f"{what}: mvn not found; install Maven (apt-get install -y maven)")
    work = libs.parent / f".{libs.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "pom.xml").write_text(pom)
    argv = [
        mvn_path, "-q", "-B", "-Dstyle.color=never", "-f", str(work / "pom.xml"),
        "dependency:copy-dependencies", "-DincludeScope=runtime",
        f"-DoutputDirectory={work / 'libs'}",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not any((work / "libs").glob(marker)):
        output = (done.stdout + done.stderr).strip()[-3000:]
        shutil.rmtree(work, ignore_errors=True)
        raise StackError(
            f"{what}: could not download the jars with mvn (exit {done.returncode}); check "
            f"network access to Maven Central and ~/.m2/settings.xml. Command: "
            f"{' '.join(argv)}\n{output}"
        )
    shutil.rmtree(libs, ignore_errors=True)
    os.replace(work / "libs", libs)
    shutil.rmtree(work, ignore_errors=True)
