"""Probe calls: calls of a code task's entry point to compare candidate programs on.

CodeT-style dual agreement needs to know which candidates *behave* alike. `probe_calls` builds
calls of the task's entry point from the literal arguments of its visible tests (its check
fence when it has no test fence, or else the stub's `>>>` examples), plus simple mutations of
them (neighbouring numbers, reversed, shortened, emptied, case-swapped inputs), or from the
stub's signature when there are no examples: values of each required parameter's kind, by
its annotation or, unannotated, by what its name says (`_kind`); a parameter with a default
keeps it. The tests' expected values are never used.
`probe_budget` is each call's share of a run's time. Pure: the calls are made by the
sandbox's judge (`strategies.shared.behaviour`, and the check verifier in the same run as the
check).
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator, Sequence
from typing import Any

from vaultttc.engine.tasks import Task

__all__ = ["probe_budget", "probe_calls"]

_TYPED: dict[str, list[Any]] = {
    "int": [0, 1, 2, 3, 5, 10, 13, 100, -4],
    "float": [0.0, 1.5, 2.0, -3.25, 10.0],
    "str": ["", "a", "abc", "Hello World", "aBc dE", "racecar", "12345"],
    "bool": [True, False],
    "List[int]": [[], [1], [1, 2, 3], [3, 1, 2], [-1, 0, 5, 5], [10, 7, 2, 9, 4]],
    "List[float]": [[], [1.0], [1.0, 2.5, 3.0], [-1.5, 0.0, 4.0]],
    "List[str]": [[], ["a"], ["abc", "b", "cd"], ["Hello", "world"]],
    "List[Any]": [[], [1, "a"], ["b", 2, 3.5], [[1], {}, "c", 4]],
    "List[List[int]]": [[], [[1]], [[1, 2], [3, 4]], [[0, 1, 0], [1, 0, 1]]],
    "Tuple[int, int]": [(0, 0), (1, 2), (-3, 5), (4, 4)],
    "dict": [{}, {"a": 1}, {"a": "apple", "B": "banana"}, {1: "x", "b": 2}],
}
_ALIASES = {"list": "List[int]", "List": "List[int]", "tuple": "Tuple[int, int]", "Tuple":
            "Tuple[int, int]", "Dict": "dict"}  # fmt: skip
_FAMILIES = {"Dict[": "dict", "dict[": "dict", "Tuple[": "Tuple[int, int]"}  # by their prefix
# what an unannotated parameter's name says it holds (`_kind`); any other name: an integer
_NAMED = {
    "str": re.compile(r"s|txt|str|string\d?|text\d?|word|sentence|message|name|\w*_str"),
    "List[str]": re.compile(r"words|strings|names|strs"),
    "List[int]": re.compile(r"l|l\d|xs|arr\w*|array\w*|lst\w*|list\w*|nums|numbers|values|items"),
    "List[List[int]]": re.compile(r"grid|matrix|rows"),
}

Args = tuple[list[Any], dict[str, Any]]


def _literal_call(node: ast.AST, entry: str) -> Args | None:
    if not (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry
    ):
        return None
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return args, kwargs


def _calls_in(source: str, entry: str) -> list[Args]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = (_literal_call(node, entry) for node in ast.walk(tree))
    return [f for f in found if f is not None]


def _example_sources(task: Task) -> list[str]:
    for visible in (task.tests, task.check):  # calls of the entry point written by the author
        if visible and visible.strip():
            return [visible]
    if not task.stub:
        return []
    try:
        tree = ast.parse(task.stub)
    except SyntaxError:
        return []
    docs = [
        ast.get_docstring(n) or ""
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef) and n.name == task.entry_point
    ]
    try:
        import doctest  # only for stubs with examples and no tests: not at every start-up

        examples = doctest.DocTestParser().get_examples(docs[0]) if docs else []
    except ValueError:  # inconsistent indentation in the docstring: no probes from it
        return []
    return [ex.source for ex in examples]


def _mutations(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, 0, -value, value * 2 + 1, 1]
    if isinstance(value, float):
        return [value + 0.5, -value, 0.0, value * 2]
    if isinstance(value, str):
        return [
            value[::-1],
            value.upper(),
            value.lower(),
            "",
            value + value,
            value[1:],
            value.swapcase(),
            value[:-1],
        ]
    if isinstance(value, list | tuple):
        return [type(value)(v) for v in _sequence_mutations(list(value))]
    if isinstance(value, dict):
        return [{}, dict(list(value.items())[:1])]
    return []


def _sequence_mutations(items: list[Any]) -> list[list[Any]]:
    out = [items[::-1], items[1:], items[:-1], [], items + items]
    if all(isinstance(x, int) and not isinstance(x, bool) for x in items) and items:
        out += [sorted(items), [x + 1 for x in items], [-x for x in items]]
    if all(isinstance(x, str) for x in items) and items:
        out += [sorted(items), [x[::-1] for x in items], [x.upper() for x in items]]
    return out


def _variants(args: list[Any], kwargs: dict[str, Any]) -> list[Args]:
    out: list[Args] = []
    for i, value in enumerate(args):
        out += [([*args[:i], m, *args[i + 1 :]], kwargs) for m in _mutations(value)]
    for name, value in kwargs.items():
        out += [(args, {**kwargs, name: m}) for m in _mutations(value)]
    return out


def _kind(arg: ast.arg) -> str:
    """The argument kind (a `_TYPED` key) to probe a parameter with: its annotation's, when it
    is one we know; else what the parameter's name suggests (`l`, `arr`, `text`…), else `int`.
    Probing a list parameter with numbers only makes every program raise alike: no vote."""
    if arg.annotation is not None:
        hint = ast.unparse(arg.annotation).replace("list[", "List[").replace("tuple[", "Tuple[")
        hint = _ALIASES.get(hint, hint)
        if hint in _TYPED:
            return hint
        family = next((k for p, k in _FAMILIES.items() if hint.startswith(p)), None)
        if family is not None:
            return family
    return next((kind for kind, name in _NAMED.items() if name.fullmatch(arg.arg)), "int")


def _required(fn: ast.FunctionDef) -> tuple[list[ast.arg], list[ast.arg]]:
    """The parameters a call must pass: positional ones without a default, keyword-only ones
    without a default."""
    positional = [*fn.args.posonlyargs, *fn.args.args]
    positional = positional[: len(positional) - len(fn.args.defaults)]
    keywords = [
        a for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True) if d is None
    ]
    return positional, keywords


def _typed(task: Task) -> list[Args]:
    try:
        tree = ast.parse(task.stub or "")
    except SyntaxError:
        return []
    fns = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == task.entry_point]
    if not fns:
        return []
    positional, keywords = _required(fns[0])
    pools = [_TYPED[_kind(arg)] for arg in (*positional, *keywords)]
    combos = list(itertools.islice(itertools.product(*pools), 400))
    step = max(1, len(combos) // 24)
    at = len(positional)
    return [(list(c[:at]), {a.arg: v for a, v in zip(keywords, c[at:], strict=True)})
            for c in combos[::step]]  # fmt: skip


def _render(entry: str, call: Args) -> str:
    args, kwargs = call
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{entry}({', '.join(parts)})"


def _round_robin(groups: list[list[Args]]) -> Iterator[Args]:
    for layer in itertools.zip_longest(*groups):
        yield from (c for c in layer if c is not None)


def probe_calls(task: Task, *, limit: int = 32) -> tuple[str, ...]:
    """Calls of the entry point to compare candidates on (expected values never included)."""
    entry = task.entry_point
    if not entry:
        return ()
    base = [c for src in _example_sources(task) for c in _calls_in(src, entry)]
    pool = base + list(_round_robin([_variants(*c) for c in base])) if base else _typed(task)
    calls: list[str] = []
    for call in pool:
        text = _render(entry, call)
        if text not in calls and len(text) < 2000:
            calls.append(text)
        if len(calls) >= limit:
            break
    return tuple(calls)


def probe_budget(timeout_s: float, calls: Sequence[str]) -> float:
    """Seconds each probe call may take: its share of the run's `timeout_s`."""
    return max(0.05, timeout_s / (len(calls) + 2))
