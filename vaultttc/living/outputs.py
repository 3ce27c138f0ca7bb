"""What an example printed against what its note expects, and the names an example binds.

Pure helpers of `living.examples`' judging: `output_diff` compares stdout with an `output`
fence (trailing whitespace ignored; `ellipsis` as doctest's), `bound_names` says what a python
example defines so a later NameError can point at it.
"""

from __future__ import annotations

import ast
import difflib
import doctest

__all__ = ["bound_names", "normalize_output", "output_diff"]


def output_diff(expected: str, actual: str, *, ellipsis: bool, label: str) -> str | None:
    """None when `actual` stdout matches `expected`; else a unified diff (expected → actual)."""
    want, got = normalize_output(expected), normalize_output(actual)
    if want == got:
        return None
    flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1 | doctest.DONT_ACCEPT_BLANKLINE
    if ellipsis and doctest.OutputChecker().check_output(want, got, flags):
        return None
    lines = difflib.unified_diff(
        want.splitlines(), got.splitlines(), f"expected ({label})", "actual stdout", lineterm=""
    )
    return "\n".join(lines)


def normalize_output(text: str) -> str:
    """Output as compared: trailing whitespace and trailing blank lines dropped."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def bound_names(code: str) -> frozenset[str]:
    """Names a python example binds at module level (empty when it does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return frozenset()
    names: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        pending.extend(ast.iter_child_nodes(node))
    return frozenset(names)
