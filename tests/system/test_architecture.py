"""The layout docs/architecture.md describes, kept by a test: who may import whom, no
circles, a leaf contract, and modules small enough to read."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contract", "mqttlink", "firmware", "hub", "dashboard", "nursery")
# Which of our packages each may import (docs/architecture.md, "Packages").
ALLOWED: dict[str, set[str]] = {
    "contract": set(),
    "mqttlink": {"contract"},
    "firmware": {"contract", "mqttlink"},
    "hub": {"contract", "mqttlink", "dashboard"},
    "dashboard": set(),
    "nursery": {"contract", "mqttlink", "firmware", "hub", "dashboard"},
}
MAX_PYTHON_LINES = 400
MAX_FRONT_END_LINES = 500


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def _module_of(dotted: str) -> str:
    """The module or package a dotted import name lands in (`hub.store.database.Store`
    is `hub.store.database`)."""
    parts = dotted.split(".")
    while parts:
        candidate = ROOT.joinpath(*parts)
        if candidate.is_dir() or candidate.with_suffix(".py").is_file():
            return ".".join(parts)
        parts.pop()
    return dotted


def imports(path: Path) -> Iterator[str]:
    """Every absolute import in the file, lazy ones inside functions included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.partition(".")[0] in PACKAGES:
                yield from (_module_of(f"{node.module}.{alias.name}") for alias in node.names)
            else:
                yield node.module


def unit(module: str) -> str:
    """What a circle is counted between: a top-level package, or one part of the hub
    (a subpackage such as hub.store.database, or a module such as hub.app)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "hub" and len(parts) > 1 else parts[0]


def graph() -> dict[str, dict[str, set[str]]]:
    """unit -> unit it imports -> the module-level edges that make it, for the message."""
    edges: dict[str, dict[str, set[str]]] = {}
    for name, path in modules():
        for target in imports(path):
            if target.partition(".")[0] in PACKAGES and unit(target) != unit(name):
                edges.setdefault(unit(name), {}).setdefault(unit(target), set()).add(
                    f"{name} -> {target}"
                )
    return edges


def test_each_package_imports_only_what_the_architecture_allows() -> None:
    wrong = sorted(
        f"{name} -> {target}"
        for name, path in modules()
        for target in imports(path)
        if (top := target.partition(".")[0]) in PACKAGES
        and top != name.partition(".")[0]
        and top not in ALLOWED[name.partition(".")[0]]
    )
    assert wrong == [], "see docs/architecture.md, 'Packages and what each may import'"


def test_no_package_imports_in_a_circle() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, {}):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    explained = [
        sorted(edge for a in circle for b in circle for edge in edges.get(a, {}).get(b, ()))
        for circle in circles
    ]
    assert explained == []


def test_the_contract_needs_only_the_standard_library() -> None:
    """The firmware and every third-party device translator can import it anywhere."""
    foreign = sorted(
        f"{name} -> {target}"
        for name, path in modules()
        if name.partition(".")[0] == "contract"
        for target in imports(path)
        if target.partition(".")[0] not in {*sys.stdlib_module_names, "contract", "__future__"}
    )
    assert foreign == []


def _front_end_files() -> list[Path]:
    static = ROOT / "dashboard" / "static"
    ours = [p for p in static.rglob("*") if p.suffix in {".js", ".css"} and "vendor" not in p.parts]
    return sorted([*ours, *(ROOT / "dashboard" / "templates").glob("*.html")])


@pytest.mark.parametrize(
    ("paths", "limit"),
    [
        pytest.param([path for _, path in modules()], MAX_PYTHON_LINES, id="python"),
        pytest.param(_front_end_files(), MAX_FRONT_END_LINES, id="front-end"),
    ],
)
def test_no_file_is_too_long_to_read(paths: list[Path], limit: int) -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in paths
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > limit
    }
    assert long == {}, f"over {limit} lines: split along a seam (docs/architecture.md)"


def test_every_module_opens_with_one_or_two_lines_on_why_it_exists() -> None:
    """Longer design notes belong in docs/design-notes.md, where they are read as a whole."""
    wordy = {
        name: 0 if doc is None else len(doc.splitlines())
        for name, path in modules()
        if (doc := ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))) is None
        or len(doc.splitlines()) > 2
    }
    assert wordy == {}


def test_no_test_module_imports_another() -> None:
    """What tests share lives in tests/support, so each test module can move or go alone."""
    borrowed = sorted(
        f"{path.relative_to(ROOT)} -> {target}"
        for path in (ROOT / "tests").rglob("*.py")
        if "support" not in path.parts
        for target in imports(path)
        if target.startswith("tests.") and target.rpartition(".")[2].startswith("test_")
    )
    assert borrowed == []
