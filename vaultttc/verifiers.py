"""Verifiers: judge one candidate against a task's reference, tests or a grader model.

`numeric` (exact rationals, then sympy equivalence with a relative tolerance), `exact`
(normalised strings), `regex` (fullmatch), `python` (the candidate's code plus the task's test
fence, or the stub's `>>>` examples, made into one program by `vaultttc.harness` and run in
`vaultttc.sandbox`; only with consent) and `judge` (an LLM grades through a `Sampler`; weak
evidence that never makes an answer `verified`).
`choose_verifier` infers which one a task gets. Strengths (what a pass proves) are in
`STRENGTH`. Verifiers never evaluate text in-process: math goes through a whitelist before
sympy parses it, and code runs only in the sandbox.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from vaultttc import harness
from vaultttc.answers import extract_answer, extract_code, normalize_answer
from vaultttc.errors import BudgetExhausted, ConfigError
from vaultttc.providers.base import Request
from vaultttc.sampling import Sampler
from vaultttc.sandbox import arun_python_batch
from vaultttc.tasks import Settings, Task, Verdict, Verifier

__all__ = [
    "STRENGTH",
    "ExactVerifier",
    "JudgeVerifier",
    "NumericVerifier",
    "PythonVerifier",
    "RegexVerifier",
    "choose_verifier",
    "equivalent",
]

# What a pass proves, in [0, 1]; confidence is built from it. A reference answer checked by
# math or string equality is near-proof; a regex admits more; a test fence written for the
# task is strong but finite; a stub's few examples are weaker; a grader model is a guess.
STRENGTH = {
    "reference": 0.99,
    "regex": 0.95,
    "tests": 0.9,
    "examples": 0.7,
    "judge": 0.5,
}

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RATIONAL = re.compile(r"-?\d+(?:/\d+)?")
_FUNCTIONS = {"sqrt", "pi", "e", "exp", "log", "ln", "sin", "cos", "tan", "abs", "oo", "i"}
_SAFE_CHARS = re.compile(r"[0-9A-Za-z+\-*/^().\s]*")
_LATEX = [
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"((\1)/(\2))"),
    (re.compile(r"\\sqrt\s*\[([^\]]*)\]\s*\{([^{}]*)\}"), r"((\2)^(1/(\1)))"),
    (re.compile(r"\\sqrt\s*\{([^{}]*)\}"), r"sqrt(\1)"),
    (re.compile(r"\\(?:cdot|times)"), "*"),
    (re.compile(r"\\div"), "/"),
    (re.compile(r"\\(pi|sin|cos|tan|log|ln|exp)\b"), r" \1"),
    (re.compile(r"\\left|\\right|\\[,!;: ]|\$|\\%|%"), ""),
]


def _plain_math(text: str) -> str | None:
    """LaTeX-ish or plain math as a whitelisted sympy string; None when it is not math."""
    text = text.strip().rstrip(".").split("=")[-1]
    for _ in range(10):
        before = text
        for pattern, repl in _LATEX:
            text = pattern.sub(repl, text)
        if text == before:
            break
    text = text.replace("{", "(").replace("}", ")").replace(",", "")
    if len(text) > 200 or "__" in text or not _SAFE_CHARS.fullmatch(text):
        return None
    words = re.findall(r"[A-Za-z]+", text)
    if any(len(w) > 1 and w.lower() not in _FUNCTIONS for w in words):
        return None
    if re.search(r"[A-Za-z)]\s*\.|\.\s*[A-Za-z(]", text):
        return None  # a dot is a decimal point, never attribute access
    return text.replace("ln", "log") if text.strip() else None


def _sympy(text: str) -> Any | None:
    """Parse whitelisted math with sympy, unevaluated; refuse huge powers (no DoS)."""
    plain = _plain_math(text)
    if plain is None:
        return None
    import sympy
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    names: dict[str, Any] = {w: sympy.Symbol(w) for w in re.findall(r"\b[A-Za-z]\b", plain)}
    names |= {"e": sympy.E, "i": sympy.I, "pi": sympy.pi, "oo": sympy.oo}
    transforms = (*standard_transformations, implicit_multiplication_application, convert_xor)
    try:
        expr = parse_expr(plain, local_dict=names, transformations=transforms, evaluate=False)
    except (SyntaxError, TypeError, ValueError, AttributeError, sympy.SympifyError):
        return None
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and not node.exp.free_symbols:
            size = node.exp.evalf(15)
            if not size.is_finite or abs(size) > 10_000:
                return None
    return expr


def _values(text: str) -> list[Fraction]:
    """The exact rational(s) an answer means: `50%` means 50 or 0.5."""
    key = normalize_answer(text)
    if not _RATIONAL.fullmatch(key):
        return []
    value = Fraction(key)
    return [value, value / 100] if "%" in text or "percent" in text.lower() else [value]


def _close(a: complex, b: complex, rel_tol: float) -> bool:
    return abs(a - b) <= max(rel_tol * max(abs(a), abs(b)), 1e-12)


def equivalent(answer: str, reference: str, *, rel_tol: float = 1e-6) -> bool:
    """True when two answers mean the same: equal keys, close numbers, or equal math."""
    key_a, key_b = normalize_answer(answer), normalize_answer(reference)
    if key_a == key_b:
        return True
    if _ISO_DATE.fullmatch(key_a) or _ISO_DATE.fullmatch(key_b):
        return False
    values_a, values_b = _values(answer), _values(reference)
    if values_a and values_b:
        try:
            return any(_close(float(a), float(b), rel_tol) for a in values_a for b in values_b)
        except OverflowError:  # beyond floats: exact rationals already disagreed
            return False
    return _sympy_equal(answer, reference, rel_tol)


def _sympy_equal(answer: str, reference: str, rel_tol: float) -> bool:
    import sympy

    a, b = _sympy(answer), _sympy(reference)
    if a is None or b is None:
        return False
    try:
        if not a.free_symbols and not b.free_symbols:
            return _close(complex(a.evalf(30)), complex(b.evalf(30)), rel_tol)
        return bool(sympy.simplify(a - b) == 0)
    except (TypeError, ValueError, ArithmeticError, sympy.SympifyError):
        return False


class _ReferenceVerifier:
    """Extract the reply's final answer and compare it with the task's `expect`."""

    name = "reference"
    strength = STRENGTH["reference"]

    async def verify(self, candidate: str, task: Task) -> Verdict:
        answer = extract_answer(candidate)
        if answer is None or task.expect is None:
            return Verdict(False, 0.0, self.strength, "reference", "no answer found")
        ok = self.matches(answer, task.expect, task)
        return Verdict(ok, float(ok), self.strength, "reference", f"answer {answer!r}")

    def matches(self, answer: str, expect: str, task: Task) -> bool:
        raise NotImplementedError


class NumericVerifier(_ReferenceVerifier):
    """Math equivalence with `expect`: rationals exactly, expressions by sympy, within a
    relative tolerance (the task's `tolerance::` field, else the constructor's)."""

    name = "numeric"

    def __init__(self, *, rel_tol: float = 1e-6) -> None:
        self._rel_tol = rel_tol

    def matches(self, answer: str, expect: str, task: Task) -> bool:
        raw = task.fields.get("tolerance")
        try:
            rel_tol = float(raw) if raw is not None else self._rel_tol
        except ValueError as exc:
            raise ConfigError(f"tolerance:: {raw!r} is not a number") from exc
        return equivalent(answer, expect, rel_tol=rel_tol)


class ExactVerifier(_ReferenceVerifier):
    """Normalised string equality with `expect` (numbers, dates, choices canonicalised)."""

    name = "exact"

    def matches(self, answer: str, expect: str, task: Task) -> bool:
        return normalize_answer(answer) == normalize_answer(expect)


class RegexVerifier(_ReferenceVerifier):
    """`expect` is a regular expression that must fullmatch the answer (raw or normalised).

    An invalid pattern is caught by `choose_verifier`; here it simply never matches."""

    name = "regex"
    strength = STRENGTH["regex"]

    def matches(self, answer: str, expect: str, task: Task) -> bool:
        try:
            pattern = re.compile(expect)
        except re.error:
            return False
        return any(pattern.fullmatch(text) for text in (answer.strip(), normalize_answer(answer)))


class PythonVerifier:
    """Run the candidate's code against the task's test fence (or the stub's examples).

    Needs consent: with `allow_exec=False` every verdict is `passed=None`, "execution not
    allowed". Concurrent `verify` calls for one task are coalesced into one sandbox batch;
    `verify_many` does the same explicitly. A task with neither tests nor examples only checks
    that the program runs (`passed=None` when it does, False when it crashes).
    """

    def __init__(
        self, *, allow_exec: bool, timeout_s: float = 10.0, memory_mb: int = 512,
        workers: int | None = None,
    ) -> None:
        self._allow = allow_exec
        self._timeout_s = timeout_s
        self._memory_mb = memory_mb
        self._workers = workers or os.cpu_count() or 1
        self._queue: dict[str, tuple[Task, list[tuple[str, asyncio.Future[Verdict]]]]] = {}
        self._running: set[asyncio.Future[None]] = set()

    @property
    def name(self) -> str:
        return "python"

    async def verify(self, candidate: str, task: Task) -> Verdict:
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        key = f"{task.id}\0{id(task)}"
        if key not in self._queue:
            self._queue[key] = (task, [])
            asyncio.get_running_loop().call_soon(self._flush, key)
        self._queue[key][1].append((candidate, future))
        return await future

    def _flush(self, key: str) -> None:
        task, waiting = self._queue.pop(key)

        async def settle() -> None:
            try:
                verdicts = await self.verify_many([c for c, _ in waiting], task)
            except Exception as exc:
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(exc)
                return
            for (_, future), verdict in zip(waiting, verdicts, strict=True):
                if not future.done():
                    future.set_result(verdict)

        runner = asyncio.ensure_future(settle())
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)

    async def verify_many(self, candidates: Sequence[str], task: Task) -> list[Verdict]:
        """Verdicts for many candidates of one task, run as one sandbox batch."""
        if not self._allow:
            return [Verdict(None, 0.0, 0.0, "none", "execution not allowed") for _ in candidates]
        try:
            tests, evidence = harness.task_tests(task)
        except SyntaxError as exc:
            detail = f"the test fence does not parse: {exc}"
            return [Verdict(None, 0.0, 0.0, "none", detail) for _ in candidates]
        nonce = "vaultttc-" + secrets.token_hex(8)
        programs = [self.program(c, task, tests=tests, nonce=nonce) for c in candidates]
        results = await arun_python_batch(
            programs, timeout_s=self._timeout_s, memory_mb=self._memory_mb,
            workers=min(self._workers, max(1, len(programs) // 8)),
        )
        if not tests:
            return [harness.runs_only(result) for result in results]
        strength = STRENGTH[evidence]
        return [harness.read_run(r, nonce, evidence=evidence, strength=strength) for r in results]

    @staticmethod
    def program(candidate: str, task: Task, *, tests: list[harness.Test], nonce: str) -> str:
        """The whole program the sandbox runs: extracted code, then the harness."""
        code = extract_code(candidate, stub=task.stub, entry_point=task.entry_point)
        return harness.program(code, tests, nonce=nonce)


_GRADE = re.compile(r"GRADE\s*[:=]\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_JUDGE_PROMPT = """You are grading an answer. Judge only whether it is correct and complete.

Question:
{question}
{reference}
Answer to grade:
{answer}

Think briefly, then end with one line `GRADE: n` where n is 0 (wrong) to 10 (certainly right)."""


class JudgeVerifier:
    """An LLM grades the candidate (0-10 → score); weak evidence that never means `verified`."""

    def __init__(self, sampler: Sampler, *, max_tokens: int = 512, pass_grade: float = 7) -> None:
        self._sampler = sampler
        self._max_tokens = max_tokens
        self._pass = pass_grade / 10

    @property
    def name(self) -> str:
        return "judge"

    async def verify(self, candidate: str, task: Task) -> Verdict:
        strength = STRENGTH["judge"]
        reference = f"\nReference answer: {task.expect}\n" if task.expect else ""
        question = task.question + (f"\n\n{task.stub}" if task.stub else "")
        prompt = _JUDGE_PROMPT.format(
            question=question, reference=reference, answer=candidate[-6000:]
        )
        try:
            reply = await self._sampler.one(
                Request(prompt=prompt, max_tokens=self._max_tokens, temperature=0.0)
            )
        except BudgetExhausted as exc:
            return Verdict(None, 0.0, strength, "judge", f"no judge: {exc}")
        grades = _GRADE.findall(reply.text)
        if not grades:
            return Verdict(None, 0.0, strength, "judge", "the judge gave no grade")
        score = min(1.0, float(grades[-1]) / 10)
        detail = f"judge grade {grades[-1]}/10"
        return Verdict(score >= self._pass, score, strength, "judge", detail)


_NAMES = ("numeric", "exact", "regex", "python", "judge", "none")
_PYTHON = ("python", "py", "python3")


def choose_verifier(
    task: Task, settings: Settings, *, sampler: Sampler | None = None, allow_exec: bool
) -> Verifier | None:
    """The verifier a task gets: `verify::` (or settings.verify) wins, else inferred.

    Inference: a Python code task → python (code in other languages: None, nothing here can
    run it); an `expect` that is a number or math expression →
    numeric; any other `expect` (text, a date, a choice) → exact; nothing to check → None.
    `allow_exec` is the caller's combined consent (--allow-exec, `ttc.execute`, config).
    """
    named = (task.fields.get("verify") or settings.verify or "").strip().lower()
    if named and named not in _NAMES:
        raise ConfigError(f"verify:: {named!r} is not one of {', '.join(_NAMES)}")
    kind = named or _infer(task)
    if kind is None or kind == "none":
        return None
    return _build(kind, task, settings, sampler=sampler, allow_exec=allow_exec)


def _infer(task: Task) -> str | None:
    if task.kind == "code":
        return "python" if task.language.lower() in _PYTHON else None
    if task.expect is None:
        return None
    key = normalize_answer(task.expect)
    if _RATIONAL.fullmatch(key):
        return "numeric"
    if _ISO_DATE.fullmatch(key) or not re.search(r"[\d+\-*/^\\]", task.expect):
        return "exact"  # a date, a choice letter or a word is not arithmetic
    return "numeric" if _sympy(task.expect) is not None else "exact"


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
    if kind == "judge":
        if sampler is None:
            raise ConfigError("verify:: judge needs a model to grade with")
        return JudgeVerifier(sampler)
    if kind == "python":
        if task.kind == "code" and task.language.lower() not in _PYTHON:
            raise ConfigError(f"verify:: python cannot run {task.language} code")
        return PythonVerifier(allow_exec=allow_exec, timeout_s=settings.timeout_s)
    return NumericVerifier() if kind == "numeric" else ExactVerifier()
