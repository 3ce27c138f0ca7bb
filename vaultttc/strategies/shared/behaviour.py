"""Behaviour of candidate programs: what each returns on probe inputs, for agreement voting.

CodeT-style dual agreement needs to know which candidates *behave* alike. `probe_calls` builds
calls of the task's entry point from the literal arguments of its visible tests (its check
fence when it has no test fence, or else the stub's `>>>` examples), plus simple mutations of
them (neighbouring numbers, reversed, shortened, emptied, case-swapped inputs), or from the
stub's type hints when there are no examples. The tests' expected values are never used.
`behaviours` runs every program on those calls in the sandbox (one batch) and returns, per
program, the tuple of `repr`s of the results, with exceptions and timeouts as markers. A
program whose every probe raised or returned None votes for nothing in `vote_keys`, like an
unparsable answer.

Running code here needs the same consent as the python verifier: callers only call
`behaviours` after that verifier (or a check) has executed candidates for this task.
"""

from __future__ import annotations

import ast
import doctest
import itertools
import os
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from vaultttc.engine.tasks import Task
from vaultttc.sandbox.parent import arun_python_batch, workers_for
from vaultttc.strategies.shared.common import Candidate
from vaultttc.verifiers.harness import stub_imports

if TYPE_CHECKING:
    from vaultttc.sandbox.judge import Job

__all__ = ["Behaviours", "behaviours", "probe_calls", "vote_keys"]

_TYPED: dict[str, list[Any]] = {
    "int": [0, 1, 2, 3, 5, 10, 13, 100, -4],
    "float": [0.0, 1.5, 2.0, -3.25, 10.0],
    "str": ["", "a", "abc", "Hello World", "aBc dE", "racecar", "12345"],
    "bool": [True, False],
    "List[int]": [[], [1], [1, 2, 3], [3, 1, 2], [-1, 0, 5, 5], [10, 7, 2, 9, 4]],
    "List[float]": [[], [1.0], [1.0, 2.5, 3.0], [-1.5, 0.0, 4.0]],
    "List[str]": [[], ["a"], ["abc", "b", "cd"], ["Hello", "world"]],
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


def _typed(task: Task) -> list[Args]:
    try:
        tree = ast.parse(task.stub or "")
    except SyntaxError:
        return []
    fns = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == task.entry_point]
    if not fns:
        return []
    pools = []
    for arg in fns[0].args.args:
        hint = ast.unparse(arg.annotation).replace("list[", "List[") if arg.annotation else "int"
        pools.append(_TYPED.get(hint, _TYPED["int"]))
    combos = list(itertools.islice(itertools.product(*pools), 400))
    step = max(1, len(combos) // 24)
    return [(list(c), {}) for c in combos[::step]]


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


async def behaviours(
    programs: Sequence[str], calls: Sequence[str], *, task: Task, timeout_s: float,
    memory_mb: int = 512,
) -> list[tuple[str, ...] | None]:  # fmt: skip
    """Per program, the `repr` of each call's result (None when the program did not finish).

    The calls are made by the sandbox's judge, in a process of its own, on the entry point the
    program defines; each gets its share of `timeout_s`.
    """
    if not programs or not calls:
        return [() for _ in programs]
    job: Job = {
        "mode": "probe", "tests": [], "prelude": stub_imports(task.stub),
        "names": [task.entry_point] if task.entry_point else [], "calls": list(calls),
        "budget": max(0.05, timeout_s / (len(calls) + 2)),
    }  # fmt: skip
    runs = await arun_python_batch(
        programs, timeout_s=timeout_s, memory_mb=memory_mb,
        workers=workers_for(len(programs), os.cpu_count() or 1), judge=job,
    )  # fmt: skip
    found = [run.report.get("probes") if run.report else None for run in runs]
    return [tuple(map(str, probes)) if isinstance(probes, list) else None for probes in found]


Behaviours = dict[str, tuple[str, ...] | None]  # program → its behaviour, once probed


async def vote_keys(
    candidates: Sequence[Candidate],
    task: Task,
    *,
    execute: bool,
    timeout_s: float,
    skip: Collection[str] = (),
    memo: Behaviours | None = None,
) -> list[str | None]:
    """What each candidate votes for (None: unparsable, or a program that did not finish).

    Programs in `skip` (those that ran out of time when verified) vote for nothing without
    being run again; programs already in `memo` are not probed again, and new ones are added.
    """
    if task.kind != "code" or not execute:
        return [c.key for c in candidates]
    seen: Behaviours = {} if memo is None else memo
    programs = [p for p in dict.fromkeys(c.check for c in candidates)
                if p not in skip and p not in seen]  # fmt: skip
    found = await behaviours(programs, probe_calls(task), task=task, timeout_s=timeout_s)
    seen.update(zip(programs, found, strict=True))
    return [None if c.check in skip else _key(seen[c.check]) for c in candidates]


def _key(signature: tuple[str, ...] | None) -> str | None:
    """A program's vote: its behaviour, or nothing when it did not finish or is degenerate
    (every probe raised or returned None: a stub left as `pass` says nothing about the task,
    and in CodeGen's HumanEval samples such programs outvote the right one on a fifth of the
    problems)."""
    if signature is None:
        return None
    if signature and all(r == "None" or r.startswith("!") for r in signature):
        return None
    return repr(signature)
