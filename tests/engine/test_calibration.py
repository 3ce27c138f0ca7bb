"""The vault's own calibration: the shrunk monotone fit, when the vault's map takes over, the
fallbacks, the priors' shape, and the held-out measures `vaultttc calibration` prints."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultttc.engine.calibration import (
    MIN_OUTCOMES,
    PRIOR_WEIGHT,
    SINGLE_PRIOR,
    Book,
    Fitting,
    Labelled,
    fit_map,
    fit_shrunk,
    prior_confidence,
    prior_map,
)
from vaultttc.engine.confidence import VOTE_MAP, calibrate, mode_posterior
from vaultttc.engine.reliability import assess, assess_all, auroc, held_out, reliability
from vaultttc.engine.tasks import Signal

pairs = st.lists(
    st.tuples(st.floats(min_value=0, max_value=1), st.booleans()), min_size=0, max_size=80
)
raws = st.lists(st.floats(min_value=0, max_value=1), min_size=2, max_size=20)


@given(pairs, raws)
def test_every_fitted_map_is_monotone_and_a_probability(
    data: list[tuple[float, bool]], points: list[float]
) -> None:
    kinds = (("question", "vote"), ("code", "selection"), ("question", "single"),
             ("code", "examples"))  # fmt: skip
    for task, kind in kinds:
        knots = fit_shrunk(data, prior_map(kind, task))
        values = [calibrate(p, knots) for p in sorted(points)]
        assert all(0.0 <= v <= 1.0 for v in values)
        assert all(a <= b + 1e-12 for a, b in itertools.pairwise(values))


@given(
    st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=5),
    st.integers(min_value=1, max_value=5),
    pairs,
)
def test_more_agreement_never_lowers_a_vote_confidence(
    counts: list[int], extra: int, data: list[tuple[float, bool]]
) -> None:
    ranked = sorted(counts, reverse=True)
    if ranked[0] == 0:
        return
    knots = fit_shrunk(data, VOTE_MAP)
    more = [ranked[0] + extra, *ranked[1:]]
    moved = [ranked[0] + 1, *ranked[1:]]
    if len(ranked) > 1 and ranked[1] > 0:
        moved[1] -= 1  # one vote moves from the runner-up to the leader
    for better in (more, moved):
        before = calibrate(mode_posterior(ranked), knots)
        assert calibrate(mode_posterior(better), knots) >= before - 1e-9


def test_few_outcomes_stay_near_the_prior_and_many_follow_the_data() -> None:
    prior = prior_map("single", "question")
    p = SINGLE_PRIOR["question"]
    assert calibrate(1.0, prior) == pytest.approx(p)
    few = fit_shrunk([(1.0, False)] * 3, prior)
    many = fit_shrunk([(1.0, False)] * 150 + [(1.0, True)] * 50, prior)
    assert p / 2 < calibrate(1.0, few) < p
    assert calibrate(1.0, many) == pytest.approx((50 + PRIOR_WEIGHT * p) / 205, abs=1e-6)
    assert fit_shrunk([], prior) == prior


def test_a_single_unchecked_sample_is_worth_its_models_measured_accuracy() -> None:
    signal = Signal("single", 1.0)
    outcomes = [
        Labelled("p", "m", "question", "single", 1.0, i % 4 == 0, f"q{i}") for i in range(40)
    ]
    book = Book.fit(outcomes)
    p = SINGLE_PRIOR["question"]
    assert book.confidence("p", "m", signal) == pytest.approx((10 + 5 * p) / 45, abs=1e-6)
    assert book.confidence("p", "other", signal) == prior_confidence(signal) == p
    # a sample with a trace confidence falls back to the model's single-sample map
    assert book.confidence("p", "m", Signal("trace", 7.3)) == book.confidence("p", "m", signal)
    assert prior_confidence(Signal("single", 1.0, task="code")) == SINGLE_PRIOR["code"]


def test_the_vaults_map_is_used_from_min_outcomes_on() -> None:
    def book(n: int) -> Book:
        return Book.fit(
            [Labelled("p", "m", "question", "vote", 0.99, False, f"q{i}") for i in range(n)]
        )

    signal = Signal("vote", 0.99)
    assert book(MIN_OUTCOMES - 1).map_for("p", "m", signal)[1] == "prior"
    knots, source = book(MIN_OUTCOMES).map_for("p", "m", signal)
    assert source.startswith("vault") and calibrate(0.99, knots) < prior_confidence(signal)
    # a weighted vote without a map of its own uses the model's plain vote map
    weighted = Signal("weighted-vote", 0.99)
    assert book(MIN_OUTCOMES).map_for("p", "m", weighted)[0] == knots


def test_a_reasked_question_replaces_its_outcome() -> None:
    same = [Labelled("p", "m", "question", "single", 1.0, i == 39, "q") for i in range(40)]
    assert Book.fit(same).counts == {("p", "m", "question", "single"): 1}


def test_auroc_and_the_reliability_table() -> None:
    assert auroc([(0.9, True), (0.1, False)]) == 1.0
    assert auroc([(0.1, True), (0.9, False)]) == 0.0
    assert auroc([(0.5, True), (0.5, False)]) == 0.5
    assert auroc([(0.5, True)]) is None
    rows = reliability([(0.05, False), (0.95, True), (0.92, False)])
    assert [(r.low, r.count) for r in rows] == [(0.0, 1), (0.9, 2)]
    assert rows[1].accuracy == pytest.approx(0.5) and rows[1].confidence == pytest.approx(0.935)


def test_held_out_scores_each_outcome_with_a_map_fitted_on_the_others() -> None:
    data = [(i / 99, i >= 50) for i in range(100)]
    cv = held_out(data, VOTE_MAP)
    assert len(cv) == 100 and sorted(y for _, y in cv) == sorted(y for _, y in data)
    report = assess(("p", "m", "question", "vote"), data)
    assert report.in_use and report.auroc is not None and report.auroc > 0.95
    assert report.outcomes == 100 and report.accuracy == pytest.approx(0.5)
    outcomes = [
        Labelled("p", "m", "question", "vote", r, y, f"k{i}") for i, (r, y) in enumerate(data)
    ]
    assert [a.key for a in assess_all(outcomes)] == [("p", "m", "question", "vote")]


def test_evidence_that_does_not_rank_its_answers_gets_a_flat_map() -> None:
    prior = prior_map("vote", "question")
    # right one time in four, whatever the raw value says: any step would be noise
    noise = [(0.5 + (i % 7) / 14, i % 4 == 0) for i in range(200)]
    assert len(fit_map(noise, prior)) == 1
    assert calibrate(0.99, fit_map(noise, prior)) == pytest.approx(0.25, abs=0.03)
    # raw values that do rank the answers keep their steps
    ranked = [(i / 199, i % 10 < i // 20) for i in range(200)]
    knots = fit_map(ranked, prior)
    assert len(knots) > 2 and calibrate(0.05, knots) < 0.2 < 0.8 < calibrate(0.95, knots)


def test_a_book_fitted_as_outcomes_come_in_keeps_up_without_refitting_on_every_one() -> None:
    """One outcome per saved note: each map is fitted again once its new outcomes are a tenth
    of what it was fitted on (at once below MIN_OUTCOMES), never more than a tenth behind, and
    all at once it is the book `Book.fit` makes."""
    outcomes = [
        Labelled("p", "m", "question", "vote", (i % 10) / 10, i % 3 != 0, f"q{i}")
        for i in range(1000)
    ]
    fitting, fits, usable_at = Fitting(), 0, None
    signal = Signal("vote", 0.5, None, "question")
    for n, outcome in enumerate(outcomes, start=1):
        before = fitting.book.counts.get(outcome.map_key, 0)
        fitting.add([outcome])
        counted = fitting.book.counts[outcome.map_key]
        fits += counted != before
        assert counted == n if n < MIN_OUTCOMES else counted * 1.1 >= n
        if usable_at is None and fitting.book.map_for("p", "m", signal)[1].startswith("vault"):
            usable_at = n
    assert usable_at == MIN_OUTCOMES  # the vault's map is used as soon as there are enough
    assert fits < 80  # 29 below MIN_OUTCOMES, then one per tenth more: not 1000
    at_once = Fitting()
    at_once.add(outcomes)
    assert at_once.book == Book.fit(outcomes)
