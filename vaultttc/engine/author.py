"""Checking the author: does vaultttc's own answer agree with the one the author wrote?

Opt-in (`--check-authored`, `check_authored = true`, `check:: author`). The question was
asked without the author's text in the prompt; here the model's answer is compared with the
author's: by the same verifiers as `expect::` (numeric or exact) when the author's answer is
short, by a judge otherwise (weaker evidence, and marked as such). Never edits the author's
text: the caller writes an answer region saying whether it agrees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task
from vaultttc.verifiers.choose import choose_verifier
from vaultttc.verifiers.judge import JudgeVerifier

__all__ = ["Agreement", "compare_with_author", "is_short"]

# A short answer (a number, a date, a word or a name) is compared exactly; a sentence is not.
SHORT_CHARS = 40
SHORT_WORDS = 6


@dataclass(frozen=True, slots=True)
class Agreement:
    agrees: bool | None  # None: the judge could not say
    by: str  # "reference" or "judge"
    detail: str = ""


def is_short(author: str) -> bool:
    text = author.strip()
    return (
        bool(text)
        and "\n" not in text
        and len(text) <= SHORT_CHARS
        and (len(text.split()) <= SHORT_WORDS)
    )


async def compare_with_author(
    outcome: Outcome, author: str, task: Task, *, judge: Sampler
) -> Agreement:
    """Compare `outcome.answer` with the author's answer `author`."""
    reference = replace(task, expect=author.strip(), fields={})
    if is_short(author):
        verifier = choose_verifier(reference, Settings(), sampler=None, allow_exec=False)
        if verifier is not None:
            verdict = await verifier.verify(f"The answer is: {outcome.answer}", reference)
            return Agreement(verdict.passed, "reference", verdict.detail)
    verdict = await JudgeVerifier(judge).verify(outcome.answer, reference)
    return Agreement(verdict.passed, "judge", verdict.detail)
