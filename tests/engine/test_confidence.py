"""Confidence: the vote posterior's properties, its two computations agreeing, the calibrated
maps staying monotone and in [0, 1], and the calibration tools (ECE, Platt fit)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultttc.engine.confidence import (
    IDENTITY,
    JEFFREYS,
    JUDGE_CAP,
    TESTS_MAP,
    VOTE_MAP,
    _lead_is_max,
    calibrate,
    expected_calibration_error,
    fit_isotonic,
    mode_posterior,
    verified_confidence,
    vote_confidence,
)

votes = st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=6)


@given(votes)
def test_the_posterior_is_a_probability(counts: list[int]) -> None:
    ranked = sorted(counts, reverse=True)
    assert 0.0 <= mode_posterior(ranked) <= 1.0
    assert 0.0 <= vote_confidence(ranked) <= 1.0


@given(votes, st.integers(min_value=1, max_value=10))
def test_more_votes_for_the_leader_never_lower_it(counts: list[int], extra: int) -> None:
    ranked = sorted(counts, reverse=True)
    if ranked[0] == 0:
        return
    more = [ranked[0] + extra, *ranked[1:]]
    assert mode_posterior(more) >= mode_posterior(ranked) - 1e-9
    assert vote_confidence(more) >= vote_confidence(ranked) - 1e-9


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=20))
def test_a_competitor_lowers_it(lead: int, rival: int) -> None:
    rival = min(rival, lead)
    assert mode_posterior([lead, rival]) < mode_posterior([lead])
    assert mode_posterior([lead, rival, 1]) < mode_posterior([lead, rival])


@given(st.integers(min_value=0, max_value=25), st.integers(min_value=0, max_value=25))
def test_the_beta_closed_form_equals_the_dirichlet_integral(a: int, b: int) -> None:
    closed = mode_posterior([a + 1, b + 1])
    integral = _lead_is_max([a + 1 + JEFFREYS, b + 1 + JEFFREYS])
    assert closed == pytest.approx(integral, abs=2e-6)


def test_ties_are_not_settled_and_known_values_hold() -> None:
    assert mode_posterior([4, 4]) == pytest.approx(0.5)
    assert mode_posterior([2, 2, 2]) == pytest.approx(1 / 3, abs=1e-6)
    # Jeffreys Beta(n + 1/2, 1/2): a unanimous vote is settled at 0.95 after three samples.
    assert mode_posterior([2]) == pytest.approx(0.924413, abs=1e-6)
    assert mode_posterior([3]) == pytest.approx(0.966854, abs=1e-6)
    assert mode_posterior([]) == mode_posterior([0, 3]) == vote_confidence([]) == 0.0


def test_verified_confidence_follows_the_strength_of_the_evidence() -> None:
    def conf(
        evidence: str,
        strength: float,
        *,
        passed: bool = True,
        agreement: float = 0.9,
        score: float = 1.0,
    ) -> float:
        return verified_confidence(
            evidence=evidence, strength=strength, passed=passed, score=score, agreement=agreement
        )

    assert conf("reference", 0.99) == 0.99
    assert conf("judge", 0.5, agreement=1.0) <= JUDGE_CAP < conf("reference", 0.99)
    assert conf("tests", 0.9, agreement=0.99) > conf("tests", 0.9, agreement=0.6)
    assert conf("tests", 0.9) > conf("examples", 0.7)
    assert conf("tests", 0.9, passed=False, score=0.5) == pytest.approx(0.05)
    assert conf("reference", 0.99, passed=False, score=0.0) == 0.0


@given(st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_the_calibration_maps_are_monotone_probabilities(a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    for knots in (VOTE_MAP, TESTS_MAP):
        assert 0.0 <= calibrate(low, knots) <= calibrate(high, knots) <= 1.0
    assert calibrate(a, IDENTITY) == pytest.approx(a)


def test_ece_is_zero_when_calibrated_and_the_gap_when_not() -> None:
    calibrated = [(0.75, True)] * 3 + [(0.75, False)] + [(0.25, True)] + [(0.25, False)] * 3
    assert expected_calibration_error(calibrated) == pytest.approx(0.0)
    overconfident = [(0.95, True), (0.95, False)]
    assert expected_calibration_error(overconfident) == pytest.approx(0.45)
    assert expected_calibration_error([]) == 0.0


def test_an_isotonic_fit_is_monotone_and_matches_block_accuracies() -> None:
    pairs = (
        [(0.2, False)] * 3
        + [(0.2, True)]
        + [(0.5, True)] * 2
        + [(0.5, False)] * 2
        + [(0.6, False)] * 2
        + [(0.9, True)] * 9
        + [(0.9, False)]
    )
    knots = fit_isotonic(pairs)
    # 0.5 (2 of 4 right) and 0.6 (0 of 2) violate monotonicity: pooled into one block.
    assert knots == ((0.2, 0.25), (0.5333, 0.3333), (0.9, 0.9))
    assert [y for _, y in knots] == sorted(y for _, y in knots)
    assert [calibrate(x, knots) for x, _ in knots] == pytest.approx([y for _, y in knots])
    assert calibrate(0.0, knots) == 0.25 and calibrate(1.0, knots) == 0.9
    assert calibrate(0.7166, knots) == pytest.approx((0.3333 + 0.9) / 2, abs=1e-3)
