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
the rest of the note is "not run". A REPL transcript (`is_transcript`) runs as a doctest. Setup
fences (the vault's `.vaultttc/setup.md`, then the note's own) run first and fail every example
when one fails; `retry:N` and `isolated` are passed on to the child, which applies them.

Must not: import pytest, read or write notes, or run example code in this process.
"""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from vaultttc.living.outputs import bound_names, normalize_output, output_diff
from vaultttc.notes.parse import split_lines
from vaultttc.sandbox.detect import refusal
from vaultttc.sandbox.parent import SandboxResult
from vaultttc.sandbox.sync import run_child

if TYPE_CHECKING:
    from vaultttc.notes.model import Example, Fence, Note

__all__ = [
    "PYTHON",
    "SHELLS",
    "ExampleOptions",
    "ExampleResult",
    "ExamplesReport",
    "bound_names",
    "is_transcript",
    "normalize_output",
    "output_diff",
    "run_examples",
    "skip_reason",
]

PYTHON = frozenset({"python", "py", "python3", "py3", "pycon"})
SHELLS = frozenset({"bash", "sh", "shell"})
Status = Literal["passed", "failed", "skipped", "not run"]
_CHILD = Path(__file__).with_name("child.py")
_MAX_OUTPUT = 16 * 1024 * 1024
_PROCESSES = 8  # the supervisor, the runner, and shells with their pipelines
_WATCHDOG = re.compile(r"^Timeout \(\d+:\d\d:\d\d(\.\d+)?\)!$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ExampleOptions:
    """`timeout_s` per example; `memory_mb` of address space for the child and its shells;
    `exit_ok`: an example that calls `sys.exit(0)` passes (off for a candidate fix)."""

    timeout_s: float = 10.0
    memory_mb: int = 2048
    ellipsis: bool = False
    startup_s: float = 60.0
    exit_ok: bool = True


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """What became of one example. `line` (1-based) is where `message` points in the note:
    the failing statement for an exception, else the example's first code line."""

    example: Example
    status: Status
    message: str = ""
    line: int = 0
    details: str = ""
    stdout: str | None = None  # what it printed, when only its output fence failed it

    def describe(self, display: str) -> str:
        """`note.md:LINE: message` first (pytest's short summary shows it), then details."""
        where = f"(in the example at {display}:{self.example.line})"
        parts = (
            f"{display}:{self.line}: {self.message}",
            "" if self.line == self.example.line else where,
            self.details,
        )
        return "\n".join(part for part in parts if part)


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
    setups: Sequence[_Job] = ()


# One fence for the child: its id in the protocol (the vault's setup fences count down from
# -1), the example, and the note it is in.
_Job = tuple[int, "Example", str]


# --- planning and judging (pure) -------------------------------------------------------------


def skip_reason(example: Example, *, allowed: bool) -> str | None:
    """Why `example` will not run (a skip marker, an unknown language, no consent), or None."""
    lang = example.fence.lang.lower()
    if example.skip is not None:
        return example.skip
    if lang not in PYTHON | SHELLS:
        return f"{lang or 'a fence without a language'} is not run"
    if not allowed:
        return "execution not allowed (use --allow-exec, ttc.execute: true or execute = true)"
    return None


def is_transcript(fence: Fence) -> bool:
    """A REPL session (`pycon`, or code starting with `>>> `): run as a doctest."""
    code = fence.code.lstrip()
    return fence.lang.lower() == "pycon" or code.startswith(">>> ") or code.rstrip() == ">>>"


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
            stdout = record["stdout"]
            return ExampleResult(example, "failed", message, example.line, diff, stdout)
    return ExampleResult(example, "passed", line=example.line)


def _captured_text(record: Mapping[str, Any]) -> str:
    parts = []
    for stream in ("stdout", "stderr"):
        text = str(record.get(stream, "")).rstrip()
        if text:
            parts.append(f"--- captured {stream} ---\n{text}")
    return "\n".join(parts)


def _setup_failure(setups: Sequence[_Job], child: _Child) -> tuple[str, str] | None:
    """How the first failing setup fence (the vault's, then the note's) failed, if one did."""
    for ident, example, path in setups:
        record = child.records.get(ident)
        if record is None:  # the child stopped in it, or before it
            stop = child.stop or _Stop(ident, "did not run")
            where = f"{path}:{stop.line or example.line}"
            return f"setup at {where} {stop.verb}: {stop.message}", stop.details
        error = record.get("error")
        if error:
            where = f"{path}:{error.get('line') or example.line}"
            return f"setup at {where} failed: {error['message']}", error["traceback"]
    return None


def _assemble(
    note: Note, planned: Sequence[str | None], child: _Child, *, options: ExampleOptions
) -> tuple[ExampleResult, ...]:
    results: list[ExampleResult] = []
    stop, examples = child.stop, note.examples
    setup = _setup_failure(child.setups, child)
    for i, (example, skip) in enumerate(zip(examples, planned, strict=True)):
        if skip is not None:
            results.append(ExampleResult(example, "skipped", skip, example.line))
        elif setup is not None:
            results.append(ExampleResult(example, "failed", setup[0], example.line, setup[1]))
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
    note: Note,
    *,
    allowed: bool,
    options: ExampleOptions | None = None,
    setup: Note | None = None,
) -> ExamplesReport:
    """Run `note.examples` (only when `allowed`) and judge each; never raises for an example.

    The note's setup fences, and before them the python fences of the vault's `setup` note,
    run first (only when some other example runs); when one fails, every example fails."""
    options = options or ExampleOptions()
    planned = [skip_reason(example, allowed=allowed) for example in note.examples]
    blocked = refusal() if None in planned else None
    if blocked is not None:
        planned = [skip or f"not run: {blocked}" for skip in planned]
    ready = [(i, e, note.path) for i, e in enumerate(note.examples) if planned[i] is None]
    jobs = [job for job in ready if not job[1].setup]
    child = _Child()
    if jobs:
        setups = [*_vault_setup(setup), *(job for job in ready if job[1].setup)]
        child = _run_child(note, [*setups, *jobs], options, setup=setup)
        child = _Child(child.records, child.stop, setups)
    return ExamplesReport(note.path, _assemble(note, planned, child, options=options))


def _vault_setup(setup: Note | None) -> list[_Job]:
    if setup is None:
        return []
    runnable = [e for e in setup.examples if e.skip is None and e.fence.lang.lower() in PYTHON]
    return [(-1 - k, e, setup.path) for k, e in enumerate(runnable)]


def _run_child(
    note: Note, jobs: Sequence[_Job], options: ExampleOptions, *, setup: Note | None
) -> _Child:
    attempts = sum(1 + example.retry for _, example, _ in jobs)
    budget = options.startup_s + attempts * (options.timeout_s + 1.0)
    result = run_child(
        [sys.executable, "-I", "-X", "utf8", "-c", _CHILD.read_text(encoding="utf-8")],
        stdin=json.dumps(_job(note, jobs, options, setup=setup)),
        timeout_s=budget,
        memory_mb=options.memory_mb,
        max_output=_MAX_OUTPUT,
        processes=_PROCESSES,
    )
    return _read_child(result, [ident for ident, _, _ in jobs], options=options, path=note.path)


def _job(
    note: Note, jobs: Sequence[_Job], options: ExampleOptions, *, setup: Note | None
) -> dict[str, Any]:
    """What the child needs: the examples to run, and the notes' lines for its tracebacks."""
    sources = {note.path: _lines(note)}
    if setup is not None:
        sources[setup.path] = _lines(setup)
    examples = []
    for ident, example, path in jobs:
        fence = example.fence
        code_lines = fence.code.splitlines()
        # The code as run (container prefixes like `> ` removed), so that carets line up.
        end = fence.code_line + len(code_lines)
        sources[path][fence.code_line : end] = [f"{x}\n" for x in code_lines]
        lang = fence.lang.lower()
        kind = "shell" if lang not in PYTHON else "doctest" if is_transcript(fence) else "python"
        examples.append({"id": ident, "kind": kind, "lang": lang, "code": fence.code,
                         "first": fence.code_line, "path": path, "retry": example.retry,
                         "isolated": example.isolated, "exit_ok": options.exit_ok})  # fmt: skip
    return {"path": note.path, "sources": sources, "timeout_s": options.timeout_s,
            "examples": examples}  # fmt: skip


def _lines(note: Note) -> list[str]:
    return [line.rstrip("\r\n") + "\n" for line in split_lines(note.text)]


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
