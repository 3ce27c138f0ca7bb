"""The package's shape: flows as folders, no import cycle (lazy imports included), small modules.

Read from the source with `ast`, so a lazy import inside a function counts like any other and
nothing is imported to check it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "vaultttc"
FLOWS = {
    "notes",
    "engine",
    "strategies",
    "verifiers",
    "providers",
    "sandbox",
    "vault",
    "living",
    "watch",
    "cli",
}
TOP_MODULES = {"__init__.py", "errors.py", "config.py"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every vaultttc module `path` imports, at any depth of the file (lazy imports too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("vaultttc"):
                continue
            subs = [f"{node.module}.{a.name}" for a in node.names]
            found = [s for s in subs if s in known]
            yield from found
            if len(found) < len(subs) and node.module in known:
                yield node.module


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imported(path, known)) - {name} for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle_even_through_lazy_imports() -> None:
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_top_holds_only_the_public_api_errors_and_config() -> None:
    files = {p.name for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert files == TOP_MODULES
    assert folders - {"templates"} == FLOWS


def test_no_module_is_over_400_lines() -> None:
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}


def test_every_module_says_its_role_in_a_docstring() -> None:
    missing = [
        name
        for name, path in modules().items()
        if ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) is None
    ]
    assert missing == []


def test_pytest_is_imported_by_the_plugin_only() -> None:
    importers = {
        name
        for name, path in modules().items()
        if any(
            isinstance(n, ast.Import | ast.ImportFrom)
            and any(
                (getattr(n, "module", None) or a.name).split(".")[0] == "pytest" for a in n.names
            )
            for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    }
    assert importers == {"vaultttc.living.pytest_plugin"}
