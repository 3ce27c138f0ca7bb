"""The test harness for code candidates: the judge's job for a task, and the verdict it earns.

A task's test fence is cut into top-level statements (asserts and calls count as tests, the
rest is set-up), or, without a fence, the stub docstring's `>>>` examples are read leniently
and compared like doctest. `judge_job` makes them a job for the sandbox's judge
(`sandbox/judge.py`), which runs them in a process of its own against the candidate's
program: the stub's imports are run there, and the names the tests take from the candidate
(the entry point and the tests' other free names) come across as plain values or proxies.
`read_run` turns the judge's report into a `Verdict` (score = tests passed), and `runs_only`
judges a program with nothing to check it against.

Must not: run anything (`verifiers.python` hands the job to `sandbox.parent`), decide consent,
or decide what a pass proves (the caller passes the strength).
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from vaultttc.engine.tasks import Evidence, Task, Verdict
from vaultttc.sandbox.parent import SandboxResult

if TYPE_CHECKING:
    from vaultttc.sandbox.judge import Job

__all__ = [
    "Test", "behaviour_of", "candidate_names", "judge_job", "read_run", "runs_only",
    "stub_imports", "task_tests",
]  # fmt: skip

_BUILTINS = frozenset(dir(builtins))


# (kind "stmt" or "example", source, expected output, whether it counts as a test)
Test = tuple[str, str, str, bool]
_QUOTE = re.compile(r"""[rRuU]*("{3}|'{3}|"|')""")


def _statements(source: str) -> list[Test]:
    """Top-level statements of a test fence; asserts and calls count as tests, the rest set up."""
    tree = ast.parse(source)
    lines = source.splitlines()
    tests: list[Test] = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = "\n".join(lines[first - 1 : node.end_lineno])
        definition = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        has_assert = any(isinstance(sub, ast.Assert) for sub in ast.walk(node))
        counts = isinstance(node, ast.Expr) or (has_assert and not definition)
        tests.append(("stmt", text, "", counts))
    if not any(t[3] for t in tests):
        tests = [(kind, src, want, True) for kind, src, want, _ in tests]
    return tests


def _docstring(stub: str, entry_point: str | None) -> str:
    """The entry point's docstring as written in the note (escapes like `\\n` kept as typed)."""
    try:
        tree = ast.parse(stub)
    except SyntaxError:
        return stub
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
            entry_point is None or node.name == entry_point
        ):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                literal = (ast.get_source_segment(stub, first) or "").strip()
                quote = _QUOTE.match(literal)
                return literal[quote.end() : -len(quote[1])] if quote else literal
            return ""
    return ""


def _examples(stub: str, entry_point: str | None) -> list[Test]:
    """The stub docstring's `>>>` examples as tests (expected output compared like doctest).

    Parsed leniently, line by line: real docstrings mix indentation that `doctest` rejects.
    """
    lines = [line.strip() for line in _docstring(stub, entry_point).splitlines()]
    tests: list[Test] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(">>>"):
            i += 1
            continue
        source = [lines[i][3:].removeprefix(" ")]
        i += 1
        while i < len(lines) and lines[i].startswith("..."):
            source.append(lines[i][3:].removeprefix(" "))
            i += 1
        want = []
        while i < len(lines) and lines[i] and not lines[i].startswith(">>>"):
            want.append(lines[i])
            i += 1
        tests.append(("example", "\n".join(source), "\n".join(want), True))
    return tests


def task_tests(task: Task) -> tuple[list[Test], Evidence]:
    """The task's tests: its test fence's statements, else its stub's examples (maybe none).

    Raises SyntaxError when the test fence does not parse.
    """
    if task.tests and task.tests.strip():
        return _statements(task.tests), "tests"
    return (_examples(task.stub, task.entry_point) if task.stub else []), "examples"


def stub_imports(stub: str | None) -> list[str]:
    """The stub's top-level import statements: the judge runs them itself."""
    try:
        tree = ast.parse(stub or "")
    except SyntaxError:
        return []
    return [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]


def _free_names(sources: Iterable[str]) -> set[str]:
    """Names the sources use without binding them anywhere (approximately: any scope binds)."""
    used: set[str] = set()
    bound: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(node.name)
            elif isinstance(node, ast.alias):
                bound.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bound.add(node.name)
    return used - bound


def judge_job(
    task: Task, tests: list[Test], *, calls: Sequence[str] = (), budget: float = 0.0
) -> Job:
    """The judge's job: `tests`, with what they need from the stub and from the candidate,
    then the probe `calls` (each with `budget` seconds), so that the run that judges a program
    also gives its behaviour.

    A free name of the tests that is a stdlib module is imported by the judge, not taken
    from the candidate, and so are the builtins (except an entry point named like one).
    """
    prelude, names = candidate_names(task, [source for _, source, _, _ in tests])
    return {"mode": "tests", "tests": tests, "prelude": prelude, "names": names,
            "calls": list(calls), "budget": budget}  # fmt: skip


def behaviour_of(report: object) -> tuple[bool, tuple[str, ...] | None]:
    """(whether the judge made the probe calls, the program's behaviour on them: None when
    they did not run)."""
    if not isinstance(report, dict) or "probes" not in report:
        return False, None
    probes = report["probes"]
    return True, tuple(map(str, probes)) if isinstance(probes, list) else None


def candidate_names(
    task: Task, sources: Iterable[str], *, defined: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """What the judge runs before `sources` (the stub's imports, and the stdlib modules they
    use unimported) and the names they take from the candidate (the entry point and their
    other free names, but for builtins and the names the judge `defined` itself)."""
    prelude = stub_imports(task.stub)
    free = _free_names(sources) - set(defined)
    free -= {name for statement in prelude for name in _bound_by(statement)}
    modules = sorted(n for n in free if n in sys.stdlib_module_names)
    names = sorted(free - _BUILTINS - set(modules))
    if task.entry_point and task.entry_point not in names:
        names.append(task.entry_point)
    return prelude + [f"import {m}" for m in modules], names


def _bound_by(statement: str) -> set[str]:
    tree = ast.parse(statement)
    return {(a.asname or a.name).split(".")[0] for n in tree.body for a in getattr(n, "names", [])}


def read_run(result: SandboxResult, *, evidence: Evidence, strength: float) -> Verdict:
    """A verdict from the judge's report: every test ran, score = the fraction passed."""
    report = result.report
    tail = result.stderr.strip()[-600:]
    if report is None:
        why = "timed out" if result.timed_out else tail or "the tests' process ended early"
        return Verdict(False, 0.0, strength, evidence, why, timed_out=result.timed_out)
    passed, counted, broken = (int(report[k]) for k in ("passed", "counted", "broken"))
    ok = broken == 0 and not report.get("ended")
    score = passed / counted if counted else float(ok)
    lead = [str(report["ended"])] if report.get("ended") else report["failures"]
    why = "\n".join([*lead, tail] if tail else lead)[:600]
    detail = f"{passed}/{counted} passed" + ("" if ok else f"; {why}")
    probed, behaviour = behaviour_of(report)
    return Verdict(ok, score, strength, evidence, detail, behaviour=behaviour, probed=probed)


def runs_only(result: SandboxResult) -> Verdict:
    """A program with nothing to check it against: running cleanly proves nothing more."""
    if result.ok:
        return Verdict(None, 0.5, 0.0, "none", "runs; no tests or examples to check it against")
    why = result.stderr.strip()[-600:] or ("timed out" if result.timed_out else "crashed")
    return Verdict(False, 0.0, 0.0, "none", why, timed_out=result.timed_out)
