"""The test harness for code candidates: the program that checks a candidate, and its verdict.

A task's test fence is cut into top-level statements (asserts and calls count as tests, the
rest is set-up), or, without a fence, the stub docstring's `>>>` examples are read leniently
and compared like doctest. `program` appends a harness that runs each of them on its own and
ends with a nonce line; `read_run` turns the sandbox's result into a `Verdict` (score = tests
passed), and `runs_only` judges a program with nothing to check it against.

Must not: run anything (`verifiers.python` hands programs to `sandbox.marked`),
decide consent, or decide what a pass proves (the caller passes the strength).
"""

from __future__ import annotations

import ast
import re

from vaultttc.engine.tasks import Evidence, Task, Verdict
from vaultttc.sandbox.marked import Marked
from vaultttc.sandbox.parent import SandboxResult

__all__ = ["Test", "program", "read_run", "runs_only", "task_tests"]

# The harness appended to a candidate program: each test statement (or docstring example)
# runs on its own, so one failure does not hide the rest; the final line carries a nonce the
# candidate cannot know, so a program that exits early (sys.exit(0), os._exit) never passes.
_HARNESS = """

def __vt_example(src, want):
    import ast, contextlib, io
    buf, value = io.StringIO(), None
    with contextlib.redirect_stdout(buf):
        try:
            value = eval(compile(src, "<example>", "eval"), globals())
            if value is not None:
                print(repr(value))
        except SyntaxError:
            exec(compile(src, "<example>", "exec"), globals())
    got = buf.getvalue().strip()
    if got == want or " ".join(got.split()) == " ".join(want.split()):
        return
    if not want and value is True:
        return  # `>>> f(x) == y` with no output line is meant as an assertion
    try:
        if value is not None and ast.literal_eval(want) == value:
            return
    except Exception:
        pass
    raise AssertionError(f"{{src}}: expected {{want}}, got {{got}}")

def __vt_run(tests):
    import sys
    passed = counted = broken = 0
    for kind, src, want, counts in tests:
        try:
            if kind == "example":
                __vt_example(src, want)
            else:
                exec(compile(src, "<tests>", "exec"), globals())
            ok = True
        except BaseException as exc:
            ok, broken = False, broken + 1
            head = src.strip().splitlines()[0][:160] if src.strip() else ""
            print(f"FAILED {{head}}: {{type(exc).__name__}}: {{str(exc)[:300]}}", file=sys.stderr)
        counted += counts
        passed += counts and ok
    print({nonce!r}, passed, counted, broken)

__vt_run({tests!r})
"""


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


def program(code: str, tests: list[Test], *, nonce: str) -> str:
    """`code` followed by the harness that runs `tests` and reports under `nonce`."""
    return code + _HARNESS.format(nonce=nonce, tests=tests) if tests else code


def read_run(run: Marked, *, evidence: Evidence, strength: float) -> Verdict:
    """A verdict from the harness's nonce line: all statements ran, score = tests passed."""
    result = run.result
    why = "timed out" if result.timed_out else result.stderr.strip()[-600:]
    mark = (run.payload or "").split()
    if len(mark) != 3:
        return Verdict(False, 0.0, strength, evidence, why or "the program ended before its tests")
    passed, counted, broken = (int(x) for x in mark)
    ok = result.ok and broken == 0
    score = passed / counted if counted else float(ok)
    detail = f"{passed}/{counted} passed" + ("" if ok else f"; {why}")
    return Verdict(ok, score, strength, evidence, detail)


def runs_only(result: SandboxResult) -> Verdict:
    """A program with nothing to check it against: running cleanly proves nothing more."""
    if result.ok:
        return Verdict(None, 0.5, 0.0, "none", "runs; no tests or examples to check it against")
    return Verdict(False, 0.0, 0.0, "none", result.stderr.strip()[-600:] or "crashed")
