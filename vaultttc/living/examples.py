"""Living documentation: run one note's examples in one sandboxed process and judge them.

`run_examples` plans which examples run (skip markers, unknown languages and missing consent
skip them: `allowed=False` runs nothing), hands the rest to the child program
(`living/child.py`) through `sandbox.run_child` — a temp working directory as cwd and HOME,
a memory budget for the whole tree, an environment without keys, tokens or secrets, the
sandbox's namespaces (no network, no host files), or nothing at all where the machine gives
no isolation and `--allow-exec=unsandboxed` was not given — and judges what comes back: only
the child's supervisor reports, and only for the example it handed out. An exception fails
an example at the note's own line; an `output` fence right after it must match its stdout
(trailing whitespace ignored; `...` matches any text when the output fence says `ellipsis`,
e.g. ```` ```output ellipsis ````, or when `ExampleOptions.ellipsis` is set); a NameError
for a name that an earlier failed or skipped example would have bound says so. A per-example
timeout (the child's watchdog) fails that example with "timed out" and the line it hung on;
the rest of the note is "not run".

Must not: import pytest, read or write notes, or run example code in this process.
"""

from __future__ import annotations

import ast
import difflib
import doctest
import json
import re
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from vaultttc.notes.parse import split_lines
from vaultttc.sandbox.detect import refusal
from vaultttc.sandbox.parent import SandboxResult
from vaultttc.sandbox.sync import run_child

if TYPE_CHECKING:
    from vaultttc.notes.model import Example, Note

__all__ = [
    "PYTHON",
    "SHELLS",
    "ExampleOptions",
    "ExampleResult",
    "ExamplesReport",
    "bound_names",
    "output_diff",
    "run_examples",
    "skip_reason",
]

PYTHON = frozenset({"python", "py", "python3", "py3"})
SHELLS = frozenset({"bash", "sh", "shell"})
Status = Literal["passed", "failed", "skipped", "not run"]
_CHILD = Path(__file__).with_name("child.py")
_MAX_OUTPUT = 16 * 1024 * 1024
_PROCESSES = 8  # the supervisor, the runner, and shells with their pipelines
_WATCHDOG = re.compile(r"^Timeout \(\d+:\d\d:\d\d(\.\d+)?\)!$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ExampleOptions:
    """`timeout_s` per example; `memory_mb` of address space for the child and its shells."""

    timeout_s: float = 10.0
    memory_mb: int = 2048
    ellipsis: bool = False
    startup_s: float = 60.0


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """What became of one example. `line` (1-based) is where `message` points in the note:
    the failing statement for an exception, else the example's first code line."""

    example: Example
    status: Status
    message: str = ""
    line: int = 0
    details: str = ""


@dataclass(frozen=True, slots=True)
class ExamplesReport:
    path: str
    results: tuple[ExampleResult, ...] = ()

    @property
    def first_failure(self) -> ExampleResult | None:
        return next((r for r in self.results if r.status == "failed"), None)

    @property
    def all_passed(self) -> bool:
        """At least one example ran and passed, and none failed."""
        statuses = {r.status for r in self.results}
        return "passed" in statuses and "failed" not in statuses


@dataclass(frozen=True, slots=True)
class _Stop:
    """The child stopped early: `index` is the example it was running."""

    index: int
    message: str
    line: int | None = None
    details: str = ""
    verb: str = "stopped the run"


@dataclass(frozen=True, slots=True)
class _Child:
    """What came back from the child: a record per finished example, and why it stopped."""

    records: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    stop: _Stop | None = None


# --- planning and judging (pure) -------------------------------------------------------------


def skip_reason(example: Example, *, allowed: bool) -> str | None:
    """Why `example` will not run (a skip marker, an unknown language, no consent), or None."""
    lang = example.fence.lang.lower()
    if example.skip is not None:
        return example.skip
    if lang not in PYTHON | SHELLS:
        return f"unknown language {lang or '(none)'}: not run"
    if not allowed:
        return "execution not allowed (use --allow-exec, ttc.execute: true or execute = true)"
    return None


def output_diff(expected: str, actual: str, *, ellipsis: bool, label: str) -> str | None:
    """None when `actual` stdout matches `expected`; else a unified diff (expected → actual)."""
    want, got = _normalize(expected), _normalize(actual)
    if want == got:
        return None
    flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1 | doctest.DONT_ACCEPT_BLANKLINE
    if ellipsis and doctest.OutputChecker().check_output(want, got, flags):
        return None
    lines = difflib.unified_diff(
        want.splitlines(), got.splitlines(), f"expected ({label})", "actual stdout", lineterm=""
    )
    return "\n".join(lines)


def _normalize(text: str) -> str:
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


def _name_hint(name: str | None, earlier: Sequence[ExampleResult]) -> str:
    if not name:
        return ""
    for result in reversed(earlier):
        lang = result.example.fence.lang.lower()
        if result.status == "passed" or lang not in PYTHON:
            continue
        if name in bound_names(result.example.fence.code):
            how = "failed" if result.status == "failed" else f"was {result.status}"
            return f" (probably because the example at line {result.example.line} {how})"
    return ""


def _judge(
    example: Example,
    record: Mapping[str, Any],
    *,
    path: str,
    options: ExampleOptions,
    earlier: Sequence[ExampleResult],
) -> ExampleResult:
    captured = _captured_text(record)
    error = record.get("error")
    if error:
        message = error["message"] + _name_hint(error.get("name"), earlier)
        details = "\n".join(part for part in (error["traceback"].rstrip(), captured) if part)
        return ExampleResult(example, "failed", message, error.get("line") or example.line, details)
    if example.output is not None:
        out_line = example.output.code_line + 1
        ellipsis = options.ellipsis or "ellipsis" in example.output.words
        label = f"{path}:{out_line}"
        diff = output_diff(example.output.code, record["stdout"], ellipsis=ellipsis, label=label)
        if diff is not None:
            message = f"stdout does not match the expected output at line {out_line}"
            return ExampleResult(example, "failed", message, example.line, diff)
    return ExampleResult(example, "passed", line=example.line)


def _captured_text(record: Mapping[str, Any]) -> str:
    parts = []
    for stream in ("stdout", "stderr"):
        text = str(record.get(stream, "")).rstrip()
        if text:
            parts.append(f"--- captured {stream} ---\n{text}")
    return "\n".join(parts)


def _assemble(
    note: Note, planned: Sequence[str | None], child: _Child, *, options: ExampleOptions
) -> tuple[ExampleResult, ...]:
    results: list[ExampleResult] = []
    stop, examples = child.stop, note.examples
    for i, (example, skip) in enumerate(zip(examples, planned, strict=True)):
        if skip is not None:
            results.append(ExampleResult(example, "skipped", skip, example.line))
        elif i in child.records:
            record = child.records[i]
            results.append(
                _judge(example, record, path=note.path, options=options, earlier=results)
            )
        elif stop is not None and i == stop.index:
            line = stop.line or example.line
            results.append(ExampleResult(example, "failed", stop.message, line, stop.details))
        else:
            assert stop is not None, "the child finished without a record"
            why = f"not run: the example at line {examples[stop.index].line} {stop.verb}"
            results.append(ExampleResult(example, "not run", why, example.line))
    return tuple(results)


# --- the parent: one sandboxed child process per note --------------------------------------


def run_examples(
    note: Note, *, allowed: bool, options: ExampleOptions | None = None
) -> ExamplesReport:
    """Run `note.examples` (only when `allowed`) and judge each; never raises for an example."""
    options = options or ExampleOptions()
    planned = [skip_reason(example, allowed=allowed) for example in note.examples]
    blocked = refusal() if None in planned else None
    if blocked is not None:
        planned = [skip or f"not run: {blocked}" for skip in planned]
    jobs = [i for i, skip in enumerate(planned) if skip is None]
    child = _run_child(note, jobs, options) if jobs else _Child()
    return ExamplesReport(note.path, _assemble(note, planned, child, options=options))


def _run_child(note: Note, jobs: Sequence[int], options: ExampleOptions) -> _Child:
    budget = options.startup_s + len(jobs) * (options.timeout_s + 1.0)
    result = run_child(
        [sys.executable, "-I", "-X", "utf8", "-c", _CHILD.read_text(encoding="utf-8")],
        stdin=json.dumps(_job(note, jobs, options)),
        timeout_s=budget,
        memory_mb=options.memory_mb,
        max_output=_MAX_OUTPUT,
        processes=_PROCESSES,
    )
    return _read_child(result, jobs, options=options, path=note.path)


def _job(note: Note, jobs: Sequence[int], options: ExampleOptions) -> dict[str, Any]:
    """What the child needs: the examples to run, and the note's lines for its tracebacks."""
    lines = [line.rstrip("\r\n") + "\n" for line in split_lines(note.text)]
    examples = []
    for i in jobs:
        fence = note.examples[i].fence
        code_lines = fence.code.splitlines()
        # The code as run (container prefixes like `> ` removed), so that carets line up.
        lines[fence.code_line : fence.code_line + len(code_lines)] = [f"{x}\n" for x in code_lines]
        lang = fence.lang.lower()
        kind = "python" if lang in PYTHON else "shell"
        examples.append({"id": i, "kind": kind, "lang": lang, "code": fence.code,
                         "first": fence.code_line})  # fmt: skip
    return {"path": note.path, "lines": lines, "timeout_s": options.timeout_s, "examples": examples}


def _read_child(
    result: SandboxResult, jobs: Sequence[int], *, options: ExampleOptions, path: str
) -> _Child:
    records: dict[int, Mapping[str, Any]] = {}
    current, code, forged = jobs[0], result.returncode, False
    for line in result.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("event")
        if kind == "start":
            current = event["id"]
        elif kind == "done":
            records[event["id"]] = event
        elif kind == "exit":
            code = event["code"]
        forged = forged or kind == "forged"
    if len(records) == len(jobs):
        return _Child(records)
    if forged:
        why = "its report was forged: an example wrote to vaultttc's report channel"
        return _Child(records, _Stop(current, why, verb="tampered with the run"))
    return _Child(records, _stop(result, current, code, options=options, path=path))


def _stop(
    result: SandboxResult, current: int, code: int | None, *, options: ExampleOptions, path: str
) -> _Stop:
    """Why the child stopped before finishing: faulthandler's timeout, the budget, a crash."""
    if _WATCHDOG.search(result.stderr):
        where = re.findall(rf'File "{re.escape(path)}", line (\d+)', result.stderr)
        line = int(where[0]) if where else None
        at = f" (at line {line})" if line else ""
        return _Stop(
            current, f"timed out after {options.timeout_s:g} s{at}", line, verb="timed out"
        )
    if result.timed_out:
        return _Stop(current, "the note's examples ran out of time", verb="timed out")
    how = "it printed more than the output limit" if result.truncated else _how(code)
    tail = result.stderr[-4000:].strip()
    return _Stop(current, f"the example process died ({how})", None, tail, verb="crashed")


def _how(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit status {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"
