"""The check harness: the judge's job for a question's `python check` fence, and the verdict
read back from the judge's report.

A check runs in the sandbox's judge (`sandbox/judge.py`), a process of its own beside the
candidate's, once per candidate, with `answer` and `completion` defined: strings handed to the
judge by the parent, which are data and never code. For a code task the candidate's program
runs in its own process first, and the names the check uses that the candidate defines (its
entry point and the check's other free names) come across as plain values or proxies, as for
a test fence; the check calls them, it does not `exec` the program (a check that `exec`s
`answer` runs the candidate in the judge's process, with the power to forge its verdict). So
nothing a candidate prints, defines, patches or writes reaches the verdict: only the judge,
which the candidate cannot write to or patch, says whether the check raised and what `score`
it set. `read_verdict` turns the judge's report into a `Verdict`: no report (a timeout, a
killed judge) is a failure.

Must not: run anything (`verifiers.check` hands the job to the sandbox), decide consent,
or evaluate the check in this process (`parse_check` only compiles it to find syntax errors).
"""

from __future__ import annotations

import ast
import math
from typing import TYPE_CHECKING

from vaultttc.engine.probes import probe_budget, probe_calls
from vaultttc.engine.tasks import Task, Verdict
from vaultttc.errors import ConfigError
from vaultttc.sandbox.parent import SandboxResult
from vaultttc.verifiers.harness import behaviour_of, candidate_names

if TYPE_CHECKING:
    from vaultttc.sandbox.judge import Job

__all__ = ["DEFINED", "grades_partially", "job", "parse_check", "read_verdict"]

DEFINED = frozenset({"answer", "completion", "score"})  # what the judge defines for a check


def parse_check(source: str) -> None:
    """Raise ConfigError when the check fence is not valid Python (compiled, never run)."""
    try:
        compile(source, "<check>", "exec", flags=ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line} of the fence)" if line else ""
        reason = getattr(exc, "msg", None) or str(exc)
        raise ConfigError(f"the python check fence does not parse{where}: {reason}") from None


def grades_partially(source: str) -> bool:
    """Whether the check assigns `score`: it grades partial solutions, which search can rank."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "score" and isinstance(node.ctx, ast.Store):
            return True
        if isinstance(node, ast.Global | ast.Nonlocal) and "score" in node.names:
            return True
    return False


def job(task: Task, source: str, *, timeout_s: float) -> Job:
    """The judge's job for the check `source`: for a code task, with the stub's imports, the
    names the check takes from the candidate and the task's probe calls (the program's
    behaviour, for agreement, comes from the same run); for a question, nothing from any
    candidate."""
    if task.kind != "code":
        return {"mode": "check", "tests": [], "prelude": [], "names": [], "calls": [],
                "budget": 0.0, "check": source}  # fmt: skip
    prelude, names = candidate_names(task, [source], defined=DEFINED)  # the entry point too
    calls = list(probe_calls(task))
    return {"mode": "check", "tests": [], "prelude": prelude, "names": names, "calls": calls,
            "budget": probe_budget(timeout_s, calls), "check": source}  # fmt: skip


def read_verdict(result: SandboxResult, *, strength: float, timeout_s: float) -> Verdict:
    """A verdict from the judge's report; without one, the check did not finish."""
    found = _decoded(result.report)
    if found is None:
        if result.timed_out:
            why = f"the check timed out after {timeout_s:g} s"
        else:
            tail = result.stderr.strip()[-300:]
            why = "the check ended without a verdict" + (f": {tail}" if tail else "")
        return Verdict(False, 0.0, strength, "check", why, timed_out=result.timed_out)
    passed, score, error = found
    if score is None:
        score = 1.0 if passed else 0.0
    detail = "the check passed" if passed else error or "the check raised"
    probed, behaviour = behaviour_of(result.report)
    return Verdict(passed, score, strength, "check", detail, behaviour=behaviour, probed=probed)


def _decoded(report: object) -> tuple[bool, float | None, str] | None:
    if not isinstance(report, dict):
        return None
    passed, score, error = report.get("passed"), report.get("score"), report.get("error")
    if not isinstance(passed, bool) or not isinstance(error, str):
        return None
    if score is not None and (not isinstance(score, int | float) or not math.isfinite(score)):
        return None
    return passed, score, error
