"""Reference verifiers: a candidate's final answer against the task's `expect::`.

`numeric` (exact rationals, then sympy equivalence with a relative tolerance), `exact`
(normalised strings) and `regex` (fullmatch). Must not evaluate text in-process: math goes
through a whitelist before sympy parses it.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from vaultttc.engine.extract import extract_answer, normalize_answer
from vaultttc.engine.tasks import Task, Verdict
from vaultttc.errors import ConfigError
from vaultttc.verifiers.strength import STRENGTH

__all__ = ["ExactVerifier", "NumericVerifier", "RegexVerifier", "equivalent", "is_math"]

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


def is_math(text: str) -> bool:
    """Whether `text` reads as a number or a math expression sympy can take."""
    return _sympy(text) is not None


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
