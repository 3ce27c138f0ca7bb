"""The `judge` verifier: an LLM grades the candidate through a `Sampler`.

Weak evidence: a judge's pass never makes an answer `verified` (its strength is the lowest).
"""

from __future__ import annotations

import re

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Task, Verdict
from vaultttc.errors import BudgetExhausted
from vaultttc.providers.base import Request
from vaultttc.verifiers.strength import STRENGTH

__all__ = ["JudgeVerifier"]

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
