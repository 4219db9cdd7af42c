"""Layers point one way: schemas, then the core, then the deployables, then the operator tools.

A module may import its own package and the layers below it, never one above or a sibling
deployable; an import hidden in a function must say why (a comment), so the graph read from
module tops is the whole graph.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Top-level packages of the project, bottom up, with what each may import besides itself.
ALLOWED: dict[str, frozenset[str]] = {
    "schemas": frozenset(),
    "consentstream": frozenset({"schemas"}),
    "services": frozenset(),  # the namespace's __init__ only
    "services.collector": frozenset({"schemas", "consentstream"}),
    "services.api": frozenset({"schemas", "consentstream"}),
    "streams": frozenset({"schemas", "consentstream"}),
    "ops": frozenset({"schemas", "consentstream", "services", "streams"}),
}
PROJECT = ("schemas", "consentstream", "services", "streams", "ops")


def layer_of(module: str) -> str | None:
    """The entry of ALLOWED a dotted module name belongs to (longest match)."""
    for name in sorted(ALLOWED, key=len, reverse=True):
        if module == name or module.startswith(f"{name}."):
            return name
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> list[Path]:
    return sorted(p for top in PROJECT for p in (ROOT / top).rglob("*.py"))


def imported(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target


def upward_imports(path: Path) -> list[str]:
    """Imports of a project layer the file's own layer may not use."""
    module = module_name(path)
    own = layer_of(module)
    assert own is not None, f"{path} is in no layer: add its package to ALLOWED"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for line, target in imported(tree, module, path.name == "__init__.py"):
        if target.split(".")[0] not in PROJECT:
            continue
        theirs = layer_of(target) or target.split(".")[0]
        if (
            theirs != own
            and theirs not in ALLOWED[own]
            and theirs.split(".")[0] not in ALLOWED[own]
        ):
            found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return found


def unexplained_nested_imports(path: Path) -> list[str]:
    """Imports inside functions without a comment on their line or the lines just above."""
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines))
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Import | ast.ImportFrom) and not _explained(lines, node):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _explained(lines: list[str], node: ast.stmt) -> bool:
    """A ``#`` comment on the import's line, or above it past other imports and a ``with``."""
    if "#" in lines[node.lineno - 1]:
        return True
    index = node.lineno - 2
    while index >= 0:
        text = lines[index].strip()
        if text.startswith("#"):
            return True
        if not text.startswith(("import ", "from ", "with ")):
            return False
        index -= 1
    return False


def test_no_module_imports_a_layer_above_or_beside_it() -> None:
    found = [problem for path in sources() for problem in upward_imports(path)]
    assert not found, "imports against the layering:\n" + "\n".join(found)


def test_imports_inside_functions_say_why() -> None:
    found = [problem for path in sources() for problem in unexplained_nested_imports(path)]
    assert not found, "imports inside functions without a comment saying why:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "text", "problem"),
    [
        ("consentstream/x.py", "from ops import cli\n", "imports ops"),
        ("consentstream/x.py", "import streams.app\n", "imports streams.app"),
        ("streams/x.py", "from ops.stack import up\n", "imports ops.stack"),
        ("services/api/x.py", "from services.collector import app\n", "services.collector"),
        ("schemas/x.py", "from consentstream import topics\n", "imports consentstream"),
    ],
)
def test_the_check_sees_an_upward_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, text: str, problem: str
) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    path = tmp_path / source
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    assert any(problem in found for found in upward_imports(path))


def test_the_check_allows_imports_downward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    path = tmp_path / "ops" / "x.py"
    path.parent.mkdir(parents=True)
    path.write_text("from services.api import casework\nfrom . import stack\n", encoding="utf-8")
    assert upward_imports(path) == []
