"""Self-consistency and adaptive-consistency with scripted samples: normalised votes, ties,
unparsable samples, early stopping, cancellation of samples in flight, and budgets."""

from __future__ import annotations

import pytest
from helpers import QUESTION, Expect, Scripted, ask, run, sampler

from vaultttc.engine.tasks import Settings
from vaultttc.strategies.adaptive import AdaptiveConsistency, settled, wave_size
from vaultttc.strategies.shared.common import Candidate, tally
from vaultttc.strategies.shared.evidence import VoteEvidence, vote_evidence

MAY_1 = ["So the answer is 05/01/2021.", "The answer is: May 1, 2021", "The answer is 2021-05-01"]


def test_equal_answers_in_different_forms_vote_together() -> None:
    replies = ["The answer is 04/30/2021.", *MAY_1]
    outcome, provider = ask("self-consistency", replies, samples=4)
    assert (outcome.status, outcome.evidence, outcome.agreed) == ("consensus", "vote", 3)
    assert outcome.answer == "05/01/2021" and outcome.samples_used == 4
    assert "3 of 4 samples agree" in outcome.note
    assert all("step by step" in r.prompt for r in provider.requests)


@pytest.mark.parametrize(("first", "second"), [("7", "9"), ("9", "7")])
def test_a_tie_goes_to_the_answer_seen_first_and_is_reported(first: str, second: str) -> None:
    replies = [
        f"The answer is {first}",
        f"The answer is {second}",
        f"The answer is {second}",
        f"The answer is {first}",
    ]
    outcome, _ = ask("self-consistency", replies, samples=4)
    assert outcome.answer == first and outcome.agreed == 2
    assert f"tie at 2 votes between '{first}', '{second}'" in outcome.note
    assert "earliest first appearance" in outcome.note


def test_unparsable_samples_vote_for_nothing_but_lower_the_confidence() -> None:
    clean, _ = ask("self-consistency", ["The answer is 42"] * 3, samples=3)
    noisy, _ = ask("self-consistency", ["The answer is 42", "", "", "The answer is 42"], samples=4)
    assert noisy.answer == "42" and noisy.agreed == 2
    assert noisy.confidence < clean.confidence
    empty, _ = ask("self-consistency", ["", "   "], samples=2)
    assert (empty.status, empty.answer) == ("failed", "")
    assert "no usable answer" in empty.note


def test_a_verifier_checks_the_vote_winner() -> None:
    verified, _ = ask(
        "self-consistency", ["The answer is 42"] * 3, verifier=Expect("42"), samples=3
    )
    failed, _ = ask("self-consistency", ["The answer is 41"] * 3, verifier=Expect("42"), samples=3)
    assert (verified.status, verified.evidence) == ("verified", "reference")
    assert failed.status == "failed" and failed.confidence < 0.05


def test_self_consistency_answers_with_what_the_budget_allowed() -> None:
    outcome, provider = ask("self-consistency", ["The answer is 42"], samples=8, budget=3)
    assert outcome.samples_used == 3 == len(provider.requests)
    assert "budget: sample budget of 3 reached" in outcome.note


def evidence(keys: list[str | None]) -> VoteEvidence:
    return vote_evidence([Candidate(i, "", k, k) for i, k in enumerate(keys)], keys, tally(keys))


def first_settled(keys: list[str | None], cap: int, threshold: float = 0.95) -> int:
    """The first n at which the first n keys would stop a vote capped at `cap`."""
    return next(
        n for n in range(1, cap + 1)
        if settled(evidence(keys[:n]), threshold, remaining=cap - n)
    )  # fmt: skip


def test_adaptive_stops_as_soon_as_the_rest_of_the_budget_cannot_change_the_vote() -> None:
    outcome, provider = ask("adaptive-consistency", ["The answer is 42"], samples=10)
    n = first_settled(["42"] * 10, 10)
    assert outcome.samples_used == n == len(provider.requests) and 1 < n < 10
    assert outcome.answer == "42" and f"stopped after {n} samples" in outcome.note
    assert "risk at most 1.0%" in outcome.note
    # a bigger budget has more samples that could overturn a lead, so it asks for more
    assert first_settled(["42"] * 40, 40) >= n


def test_a_higher_threshold_needs_more_samples() -> None:
    low, _ = ask("adaptive-consistency", ["The answer is 42"], samples=40, threshold=0.5)
    mid, _ = ask("adaptive-consistency", ["The answer is 42"], samples=40)
    high, _ = ask("adaptive-consistency", ["The answer is 42"], samples=40, threshold=0.999)
    assert low.samples_used < mid.samples_used < high.samples_used <= 40


def test_a_contested_vote_draws_up_to_the_cap_and_never_more() -> None:
    replies = ["The answer is 1", "The answer is 2"]
    outcome, provider = ask("adaptive-consistency", replies, samples=7)
    assert outcome.samples_used == 7 == len(provider.requests)
    assert outcome.answer == "1" and "not settled at 0.95 within 7 samples" in outcome.note


def test_settling_cancels_the_samples_still_in_flight() -> None:
    n = first_settled(["42"] * 10, 10)
    provider = Scripted(["The answer is 42"], hold_from=n)
    settings = Settings(strategy="adaptive-consistency", samples=10)
    draw = sampler(provider, 10)
    outcome = run(
        AdaptiveConsistency(min_wave=n + 3).run(QUESTION, settings, sampler=draw, verifier=None)
    )
    assert len(provider.requests) == n + 3 and provider.cancelled == 3
    assert outcome.samples_used == n == draw.drawn and outcome.answer == "42"


def test_waves_hold_exactly_the_samples_that_could_settle_the_vote() -> None:
    assert wave_size(evidence([]), 0.95, remaining=10) == first_settled(["a"] * 10, 10)
    assert wave_size(evidence(["a", "b"]), 0.95, remaining=2) == 1  # then "b" can only tie
    split = ["a", "b", "a"]
    extra = wave_size(evidence(split), 0.95, remaining=20)
    assert 1 < extra < 17
    assert not settled(evidence(split + ["a"] * (extra - 1)), 0.95, remaining=20 - extra + 1)
    assert settled(evidence(split + ["a"] * extra), 0.95, remaining=20 - extra)
