"""The check harness: the program that runs a question's `python check` fence on one candidate,
and the verdict read back from it.

Each candidate becomes one program (`program`): its `answer` and `completion` as string
literals, which are data and never code, then the harness, which runs the check's source in a
fresh namespace where `answer`, `completion` and `score` (None) are defined, with stdout and
stderr captured, and writes the verdict (the repr of builtin values) to file descriptor 1 after
the batch's nonce, once the check has finished. The check passes when it raises nothing
(`SystemExit` included: a check that exits did not finish); `score`, when it sets one, is its
partial credit in [0, 1].
`read_verdict` turns the sandbox's result into a `Verdict`: no verdict line (a timeout, a
crash, `os._exit`) is a failure. So what a candidate's text says, prints or defines cannot
pass a check: the text is never run unless the check itself runs it (`exec(answer, ns)` for a
code task), and then the candidate runs with the check's powers, inside the sandbox.

Must not: run anything (`verifiers.check` hands programs to the sandbox), decide consent,
or evaluate the check in this process (`parse_check` only compiles it to find syntax errors).
"""

from __future__ import annotations

import ast
import math

from vaultttc.engine.tasks import Verdict
from vaultttc.errors import ConfigError
from vaultttc.sandbox.parent import SandboxResult

__all__ = ["grades_partially", "parse_check", "program", "read_verdict"]

_HARNESS = """

def __vt_check(source, nonce):
    import contextlib, io, os, traceback
    # Everything the verdict needs is bound here, before the check runs: code the check
    # executes (a candidate's program) can patch modules and builtins, not these names; the
    # verdict is the repr of builtin values (no module's code writes it).
    write, frames, text, kind, number = os.write, traceback.extract_tb, repr, type, float
    catch, string = BaseException, str
    answer, completion = __vt_candidate
    space = {{"__name__": "__check__", "answer": answer, "completion": completion, "score": None}}
    passed, error = True, ""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            exec(compile(source, "<check>", "exec"), space)
        except catch as exc:
            passed = False
            try:
                lines = [f.lineno for f in frames(exc.__traceback__) if f.filename == "<check>"]
                where = f"check line {{lines[-1]}}: " if lines else ""
                error = f"{{where}}{{kind(exc).__name__}}: {{string(exc)[:300]}}".rstrip(": ")
            except catch:
                pass
    score = space.get("score")
    if score is not None:
        try:
            score = number(score)
        except catch:
            score = -1.0
        if not 0.0 <= score <= 1.0:
            passed, error, score = False, error or "score must be a number from 0 to 1", None
    write(1, ("\\n" + nonce + text([passed is True, score, error]) + "\\n").encode())

__vt_check({source!r}, {nonce!r})
"""


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


def program(answer: str, completion: str, *, source: str, nonce: str) -> str:
    """One candidate's program: its answer and completion as literals, then the harness that
    runs the check `source` on them and reports under `nonce`."""
    head = f"__vt_candidate = ({answer!r}, {completion!r})\n"
    return head + _HARNESS.format(source=source, nonce=nonce)


def read_verdict(
    result: SandboxResult, *, nonce: str, strength: float, timeout_s: float
) -> Verdict:
    """A verdict from the harness's last nonce line; without one, the check did not finish."""
    marks = [line for line in result.stdout.splitlines() if line.startswith(nonce)]
    found = _decoded(marks[-1][len(nonce) :]) if marks else None
    if found is None:
        if result.timed_out:
            why = f"the check timed out after {timeout_s:g} s"
        else:
            tail = result.stderr.strip()[-300:]
            why = "the check ended without a verdict" + (f": {tail}" if tail else "")
        return Verdict(False, 0.0, strength, "check", why)
    passed, score, error = found
    if score is None:
        score = 1.0 if passed else 0.0
    detail = "the check passed" if passed else error or "the check raised"
    return Verdict(passed, score, strength, "check", detail)


def _decoded(payload: str) -> tuple[bool, float | None, str] | None:
    try:
        passed, score, error = ast.literal_eval(payload.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(passed, bool) or not isinstance(error, str):
        return None
    if score is not None and (not isinstance(score, int | float) or not math.isfinite(score)):
        return None
    return passed, score, error
