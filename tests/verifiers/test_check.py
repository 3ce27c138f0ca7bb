"""The `check` verifier: a question's `python check` fence judges candidates in the sandbox.

Verdict cases are data: `tests/data/check/verdicts.json` lists checks (as lines), a candidate
(the reply for a question, the program for a code task) and the verdict it must get; they run
through the real sandbox. The rest: candidates are checked in one batch, consent is required,
a broken fence is a configuration error, and which checks grade partial solutions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from helpers import DATA

from vaultttc.engine.tasks import Settings, Task, Verdict
from vaultttc.errors import ConfigError, ExecutionNotAllowed
from vaultttc.sandbox.parent import SandboxResult, arun_python_batch
from vaultttc.verifiers import check as check_module
from vaultttc.verifiers.check import CheckVerifier, check_inputs
from vaultttc.verifiers.check_harness import grades_partially
from vaultttc.verifiers.choose import choose_verifier
from vaultttc.verifiers.strength import STRENGTH

CASES: list[dict[str, Any]] = json.loads((DATA / "check" / "verdicts.json").read_text())


def task_of(check: str, *, kind: str = "question") -> Task:
    if kind == "code":
        stub = "def add(a: int, b: int) -> int:\n    '''Add.'''\n"
        return Task(id="c", question="Add.", kind="code", stub=stub, entry_point="add", check=check)
    return Task(id="q", question="What is six times seven?", check=check)


def verdicts(verifier: CheckVerifier, candidates: Sequence[str], task: Task) -> list[Verdict]:
    async def go() -> list[Verdict]:
        return list(await asyncio.gather(*(verifier.verify(c, task) for c in candidates)))

    return asyncio.run(go())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_verdicts(case: dict[str, Any]) -> None:
    task = task_of("\n".join(case["check"]), kind=case.get("kind", "question"))
    [verdict] = verdicts(CheckVerifier(allow_exec=True, timeout_s=1.0), [case["candidate"]], task)
    assert (verdict.passed, verdict.evidence, verdict.strength) == (
        case["passed"],
        "check",
        STRENGTH["check"],
    ), verdict.detail
    if "score" in case:
        assert verdict.score == pytest.approx(case["score"], abs=1e-4)
    assert case.get("detail", "") in verdict.detail


def test_a_hundred_candidates_are_checked_in_one_sandbox_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches: list[tuple[int, int]] = []

    async def counting(programs: Sequence[str], **kwargs: Any) -> list[SandboxResult]:
        batches.append((len(programs), kwargs["workers"]))
        return await arun_python_batch(programs, **kwargs)

    monkeypatch.setattr(check_module, "arun_python_batch", counting)
    task = task_of("assert int(answer) % 2 == 0")
    candidates = [f"The answer is {n}" for n in range(100)]
    found = verdicts(CheckVerifier(allow_exec=True, workers=2), candidates, task)
    assert batches == [(100, 2)]  # one batch: two jails of 50 candidates, not 100 start-ups
    assert [v.passed for v in found] == [n % 2 == 0 for n in range(100)]


def test_the_check_sees_the_answer_as_it_would_be_written() -> None:
    open_question = Task(id="q", question="Name a 3x3 magic square.", check="pass")
    reply = (
        "<think>try 5 in the middle</think>Rows sum to 15.\nThe answer is: 2 7 6 / 9 5 1 / 4 3 8."
    )
    assert check_inputs(reply, open_question) == (
        "2 7 6 / 9 5 1 / 4 3 8",
        "Rows sum to 15.\nThe answer is: 2 7 6 / 9 5 1 / 4 3 8.",
    )
    code = task_of("pass", kind="code")
    assert check_inputs("def add(a, b):\n    return a + b\n", code)[0].startswith("def add")


def test_no_consent_no_check() -> None:
    task = task_of("assert answer")
    with pytest.raises(ExecutionNotAllowed, match="--allow-exec"):
        choose_verifier(task, Settings(), allow_exec=False)
    with pytest.raises(ExecutionNotAllowed):
        verdicts(CheckVerifier(allow_exec=False), ["The answer is 1"], task)


def test_a_check_is_the_verifier_whenever_one_is_present() -> None:
    for task in (task_of("assert answer"), task_of("assert answer", kind="code")):
        verifier = choose_verifier(task, Settings(), allow_exec=True)
        assert isinstance(verifier, CheckVerifier)
    with_expect = Task(id="q", question="q", expect="4", check="assert answer", fields={})
    assert choose_verifier(with_expect, Settings(), allow_exec=True).name == "check"  # type: ignore[union-attr]
    named = Task(id="q", question="q", expect="4", check="pass", fields={"verify": "numeric"})
    assert choose_verifier(named, Settings(), allow_exec=False).name == "numeric"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (Task(id="q", question="q", fields={"verify": "check"}), "python check"),
        (task_of("assert (answer"), "does not parse"),
    ],
)
def test_a_missing_or_broken_check_is_a_configuration_error_even_without_consent(
    task: Task, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        choose_verifier(task, Settings(), allow_exec=False)


@pytest.mark.parametrize(
    ("source", "partial"),
    [
        ("score = hits / 3\nassert hits == 3", True),
        ("for score in range(3):\n    pass", True),
        ("def f():\n    global score\n    score = 1\nf()", True),
        ("assert answer == 'score'", False),
        ("print(score)", False),
        ("assert (", False),
    ],
)
def test_a_check_that_assigns_score_grades_partial_solutions(source: str, partial: bool) -> None:
    assert grades_partially(source) is partial


def test_probes_that_run_out_of_time_leave_the_check_verdict_standing() -> None:
    task = task_of("assert add(1, 2) == 3", kind="code")
    looping = "def add(a, b):\n    while (a, b) != (1, 2):\n        pass\n    return 3\n"
    [verdict] = verdicts(CheckVerifier(allow_exec=True, timeout_s=0.5), [looping], task)
    assert (verdict.passed, verdict.timed_out) == (True, False), verdict.detail
    assert verdict.behaviour is None or "!TimeoutError" in verdict.behaviour
