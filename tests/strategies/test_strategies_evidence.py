"""The evidence strategies attach to their answers (`Outcome.signal`): what an unchecked answer's
confidence comes from, what a checked one teaches the vault, and votes weighted by the trace
confidences a replay file recorded."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from helpers import Expect, Scripted, ask, run, sampler

from vaultttc.engine.calibration import prior_confidence
from vaultttc.engine.confidence import mode_posterior
from vaultttc.engine.tasks import Settings, Signal, Task
from vaultttc.providers.base import Capabilities
from vaultttc.providers.replay import ReplayProvider
from vaultttc.strategies import get_strategy
from vaultttc.verifiers.python import PythonVerifier

QUESTION = "Which planet is the largest?"


def replayed(tmp_path: Path, samples: list[str], confidences: list[float | None]) -> ReplayProvider:
    path = tmp_path / "pool.jsonl"
    row = {"question": QUESTION, "samples": samples, "confidences": confidences}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return ReplayProvider(path)


def vote(strategy: str, provider: ReplayProvider, n: int) -> object:
    settings = Settings(strategy=strategy, samples=n)
    task = Task(id="q", question=QUESTION)
    draw = sampler(provider, n)  # type: ignore[arg-type]
    return run(get_strategy(strategy).run(task, settings, sampler=draw, verifier=None))


def test_replayed_confidences_weight_the_vote(tmp_path: Path) -> None:
    samples = ["The answer is Saturn"] * 3 + ["The answer is Jupiter"] * 2
    provider = replayed(tmp_path, samples, [1.0, 1.0, 1.0, 9.0, 9.0])
    outcome = vote("self-consistency", provider, 5)
    assert outcome.answer == "Jupiter" and outcome.agreed == 2  # type: ignore[attr-defined]
    assert "weighted by trace confidence" in outcome.note  # type: ignore[attr-defined]
    signal = outcome.signal  # type: ignore[attr-defined]
    assert signal.kind == "weighted-vote" and signal.label is None
    assert outcome.confidence == pytest.approx(prior_confidence(signal), abs=1e-4)  # type: ignore[attr-defined]


def test_one_sample_without_a_confidence_leaves_the_vote_plain(tmp_path: Path) -> None:
    samples = ["The answer is Saturn"] * 3 + ["The answer is Jupiter"] * 2
    provider = replayed(tmp_path, samples, [1.0, 1.0, None, 9.0, 9.0])
    outcome = vote("self-consistency", provider, 5)
    assert outcome.answer == "Saturn" and outcome.signal.kind == "vote"  # type: ignore[attr-defined]


def test_adaptive_consistency_stops_on_the_weighted_vote(tmp_path: Path) -> None:
    samples = ["The answer is Saturn", *["The answer is Jupiter"] * 9]
    provider = replayed(tmp_path, samples, [0.5] + [8.0] * 9)
    outcome = vote("adaptive-consistency", provider, 10)
    assert outcome.answer == "Jupiter" and outcome.signal.kind == "weighted-vote"  # type: ignore[attr-defined]
    assert outcome.samples_used < 10  # type: ignore[attr-defined]


def test_an_unchecked_single_sample_is_worth_the_single_sample_prior_not_a_vote() -> None:
    outcome, _ = ask("direct", ["The answer is 42"])
    assert outcome.signal == Signal("single", 1.0)
    assert outcome.confidence == pytest.approx(prior_confidence(Signal("single", 1.0)))
    # and it is no longer the confidence of a vote that one sample "won"
    three_of_four, _ = ask("self-consistency", ["The answer is 42"] * 3 + ["The answer is 7"],
                           samples=4)  # fmt: skip
    assert three_of_four.signal is not None and three_of_four.signal.kind == "vote"


def test_a_sample_with_a_trace_confidence_is_trace_evidence() -> None:
    class Confident(Scripted):
        async def complete(self, request):  # type: ignore[no-untyped-def]
            import dataclasses

            done = await super().complete(request)
            return dataclasses.replace(done, trace_confidence=12.5)

    outcome, _ = ask("direct", [], provider=Confident(["The answer is 42"], caps=Capabilities()))
    assert outcome.signal == Signal("trace", 12.5)


def test_a_checked_vote_is_a_labelled_example_of_its_unchecked_evidence() -> None:
    replies = ["The answer is 42"] * 3 + ["The answer is 41"]
    right, _ = ask("self-consistency", replies, samples=4, verifier=Expect("42"))
    wrong, _ = ask("self-consistency", replies, samples=4, verifier=Expect("41"))
    raw = round(mode_posterior([3, 1]), 6)
    assert right.status == "verified" and right.signal == Signal("vote", raw, True)
    assert wrong.status == "failed" and wrong.signal == Signal("vote", raw, False)
    judged, _ = ask("self-consistency", replies, samples=4, verifier=Expect("42", evidence="judge"))
    assert judged.signal is not None and judged.signal.label is None  # a judge teaches nothing


def test_best_of_n_labels_what_the_candidates_said_without_the_check() -> None:
    replies = ["The answer is 41"] * 3 + ["The answer is 42"]
    outcome, _ = ask("best-of-n", replies, samples=4, verifier=Expect("42"))
    assert outcome.answer == "42" and outcome.status == "verified"
    # unchecked, the majority (41) would have been written: that is the labelled example
    assert outcome.signal == Signal("selection", round(mode_posterior([3, 1]), 6), False)


def test_more_agreement_never_lowers_an_unchecked_vote_and_a_tie_is_not_zero() -> None:
    confidences = []
    for agree in range(1, 6):
        replies = ["The answer is 42"] * agree + [f"The answer is {n}" for n in range(5 - agree)]
        outcome, _ = ask("self-consistency", replies, samples=5)
        assert outcome.answer == "42"
        confidences.append(outcome.confidence)
    assert confidences == sorted(confidences) and confidences[0] > 0.0


EXAMPLES_STUB = 'def add_one(x):\n    """Return x plus one.\n\n    >>> add_one(1)\n    2\n    """\n'
LABELLED_CODE = Task(
    id="c2", question="Implement `add_one`.", kind="code", stub=EXAMPLES_STUB,
    tests="assert add_one(0) == 1\nassert add_one(5) == 6\n", entry_point="add_one",
)  # fmt: skip


@pytest.mark.parametrize(("strategy", "samples"), [("direct", 1), ("self-consistency", 3),
                                                   ("best-of-n", 3)])  # fmt: skip
def test_code_checked_by_its_examples_alone_learns_from_its_labelled_twin(
    strategy: str, samples: int
) -> None:
    wrong = ["    return x + 1 if x < 3 else 0\n"] * 3  # passes the example, fails the tests
    verifier = PythonVerifier(allow_exec=True, timeout_s=5)
    unlabelled = dataclasses.replace(LABELLED_CODE, tests=None)
    alone, _ = ask(strategy, wrong, task=unlabelled, verifier=verifier, samples=samples)
    signal = alone.signal
    assert alone.status == "verified" and signal is not None and signal.kind == "examples"
    assert signal.label is None and alone.confidence == pytest.approx(signal.raw, abs=1e-4)
    # the same answer where tests decide: failed, and a labelled example of the twin's evidence
    taught, _ = ask(strategy, wrong, task=LABELLED_CODE, verifier=verifier, samples=samples)
    assert taught.status == "failed"
    assert taught.signal == dataclasses.replace(signal, label=False)


def test_a_program_that_does_not_run_is_failed_and_teaches_the_vault_nothing() -> None:
    broken = ["    return x +\n"]  # a syntax error: it never runs
    verifier = PythonVerifier(allow_exec=True, timeout_s=5)
    bare = dataclasses.replace(LABELLED_CODE, stub='def add_one(x):\n    """Plus one."""\n')
    alone, _ = ask("direct", broken, task=dataclasses.replace(bare, tests=None), verifier=verifier)
    assert alone.status == "failed" and alone.confidence == 0.0
    taught, _ = ask("direct", broken, task=bare, verifier=verifier)
    assert taught.status == "failed" and taught.signal is None
    # a program that runs but is wrong is an example of what one unchecked sample is worth
    wrong, _ = ask("direct", ["    return x\n"], task=bare, verifier=verifier)
    assert wrong.signal == Signal("single", 1.0, False, "code")
