"""`choose_verifier`: which verifier a task gets, named by `verify::` or inferred.

Must not run anything: it only builds the verifier the strategy will call.
"""

from __future__ import annotations

import re

from vaultttc.engine.extract import normalize_answer
from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Settings, Task, Verifier
from vaultttc.errors import ConfigError, ExecutionNotAllowed
from vaultttc.verifiers.check import NO_CHECK, NO_CONSENT, CheckVerifier
from vaultttc.verifiers.check_harness import parse_check
from vaultttc.verifiers.judge import JudgeVerifier
from vaultttc.verifiers.python import PythonVerifier
from vaultttc.verifiers.reference import ExactVerifier, NumericVerifier, RegexVerifier, is_math

__all__ = ["choose_verifier"]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RATIONAL = re.compile(r"-?\d+(?:/\d+)?")
_NAMES = ("numeric", "exact", "regex", "python", "check", "judge", "none")
_PYTHON = ("python", "py", "python3")


def choose_verifier(
    task: Task, settings: Settings, *, sampler: Sampler | None = None, allow_exec: bool
) -> Verifier | None:
    """The verifier a task gets: `verify::` (or settings.verify) wins, else inferred.

    Inference: a `python check` fence → check; a Python code task → python (code in other
    languages: None, nothing here can run it); an `expect` that is a number or math expression
    → numeric; any other `expect` (text, a date, a choice) → exact; nothing to check → None.
    `allow_exec` is the caller's combined consent (--allow-exec, `ttc.execute`, config): a check
    without it raises `ExecutionNotAllowed` (after any `ConfigError` the check's fence deserves).
    """
    named = (task.fields.get("verify") or settings.verify or "").strip().lower()
    if named and named not in _NAMES:
        raise ConfigError(f"verify:: {named!r} is not one of {', '.join(_NAMES)}")
    kind = named or _infer(task)
    if kind is None or kind == "none":
        return None
    return _build(kind, task, settings, sampler=sampler, allow_exec=allow_exec)


def _infer(task: Task) -> str | None:
    if task.check is not None:
        return "check"
    if task.kind == "code":
        return "python" if task.language.lower() in _PYTHON else None
    if task.expect is None:
        return None
    key = normalize_answer(task.expect)
    if _RATIONAL.fullmatch(key):
        return "numeric"
    if _ISO_DATE.fullmatch(key) or not re.search(r"[\d+\-*/^\\]", task.expect):
        return "exact"  # a date, a choice letter or a word is not arithmetic
    return "numeric" if is_math(task.expect) else "exact"


def _build(
    kind: str, task: Task, settings: Settings, *, sampler: Sampler | None, allow_exec: bool
) -> Verifier:
    if kind in ("numeric", "exact", "regex") and task.expect is None:
        raise ConfigError(f"verify:: {kind} needs an expect:: answer")
    if kind == "regex":
        try:
            re.compile(task.expect or "")
        except re.error as exc:
            raise ConfigError(f"expect:: {task.expect!r} is not a valid regex: {exc}") from exc
        return RegexVerifier()
    if kind == "check":
        return _check(task, settings, allow_exec=allow_exec)
    if kind == "judge":
        if sampler is None:
            raise ConfigError("verify:: judge needs a model to grade with")
        return JudgeVerifier(sampler)
    if kind == "python":
        if task.kind == "code" and task.language.lower() not in _PYTHON:
            raise ConfigError(f"verify:: python cannot run {task.language} code")
        return PythonVerifier(allow_exec=allow_exec, timeout_s=settings.timeout_s)
    return NumericVerifier() if kind == "numeric" else ExactVerifier()


def _check(task: Task, settings: Settings, *, allow_exec: bool) -> Verifier:
    """A check verifier; a fence that does not parse is a ConfigError whatever the consent."""
    if task.check is None:
        raise ConfigError(NO_CHECK)
    parse_check(task.check)
    if not allow_exec:
        raise ExecutionNotAllowed(NO_CONSENT)
    return CheckVerifier(allow_exec=True, timeout_s=settings.timeout_s)
