"""Strategies with a question's check as verifier: auto's route (pure), and the outcome a check
gives best-of-n (scripted samples, the real check verifier and sandbox)."""

from __future__ import annotations

import pytest
from helpers import ask

from vaultttc.engine.tasks import Settings, Task
from vaultttc.strategies.auto import route
from vaultttc.verifiers.check import CheckVerifier

PASS_FAIL = "assert int(answer) == 42"
GRADED = "score = 1 - min(1, abs(int(answer) - 42) / 42)\nassert score == 1"


@pytest.mark.parametrize(
    ("check", "difficulty", "expected"),
    [
        (PASS_FAIL, "easy", ("best-of-n", 4)),
        (PASS_FAIL, "hard", ("best-of-n", 7)),
        (GRADED, "easy", ("beam", 5)),  # four more samples than the rating call drew
        (GRADED, "hard", ("beam", 8)),
    ],
)
def test_auto_sends_a_pass_fail_check_to_best_of_n_and_a_grading_one_to_search(
    check: str, difficulty: str, expected: tuple[str, int]
) -> None:
    task = Task(id="t", question="What is six times seven?", check=check)
    chosen = route(
        task,
        Settings(samples=8),
        verifier=CheckVerifier(allow_exec=True),
        difficulty=difficulty,  # type: ignore[arg-type]
        remaining=7,
    )
    assert (chosen.strategy.name, chosen.settings.samples) == expected
    assert ("partial" in chosen.reason) is (expected[0] == "beam")


def test_a_passing_check_verifies_and_the_answer_is_the_first_passing_candidate() -> None:
    task = Task(id="t", question="What is six times seven?", check=PASS_FAIL)
    replies = [
        "The answer is 41",
        "The answer is 42",
        "It is 42. The answer is 42",
        "The answer is 7",
    ]
    verifier = CheckVerifier(allow_exec=True)
    outcome, _ = ask("best-of-n", replies, task=task, verifier=verifier, samples=4)
    assert (outcome.status, outcome.answer, outcome.evidence) == ("verified", "42", "check")
    assert (outcome.passed, outcome.agreed, outcome.samples_used) == (2, 2, 4)
    assert 0.5 < outcome.confidence < 0.95
    assert outcome.signal is not None and outcome.signal.label is True
