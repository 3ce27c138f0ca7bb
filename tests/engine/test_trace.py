"""Trace confidence (DeepConf): token confidence, the lowest sliding-window group, and the
filtered, weighted vote with its properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultttc.engine.confidence import mode_posterior
from vaultttc.engine.trace import FLOOR, KEEP, token_confidence, trace_confidence, weigh


def test_token_confidence_is_the_negative_mean_of_the_top_logprobs() -> None:
    assert token_confidence([-0.1, -2.0, -3.9]) == pytest.approx(2.0)
    assert token_confidence([]) is None
    # an API's "not in the top 20" (-9999) and -inf count as the floor; NaN is ignored
    assert token_confidence([-9999.0, -math.inf, math.nan]) == pytest.approx(-FLOOR)
    peaked = token_confidence([-0.001, -9.0, -11.0])
    flat = token_confidence([-1.0, -1.2, -1.3])
    assert peaked is not None and flat is not None and peaked > flat


def test_a_trace_is_as_confident_as_its_least_confident_window() -> None:
    assert trace_confidence([]) is None
    assert trace_confidence([3.0, 5.0]) == pytest.approx(4.0)  # shorter than a window: its mean
    tokens = [9.0] * 10 + [1.0] * 4 + [9.0] * 10
    assert trace_confidence(tokens, window=4) == pytest.approx(1.0)
    assert trace_confidence(tokens, window=24) == pytest.approx(sum(tokens) / 24)


@given(st.lists(st.floats(min_value=0, max_value=50), min_size=1, max_size=60), st.integers(1, 80))
def test_the_lowest_window_is_no_higher_than_any_window_and_no_lower_than_any_token(
    tokens: list[float], window: int
) -> None:
    value = trace_confidence(tokens, window=window)
    size = min(window, len(tokens))
    assert value is not None
    assert min(tokens) - 1e-6 <= value <= sum(tokens[:size]) / size + 1e-6
    assert value <= sum(tokens[-size:]) / size + 1e-6


def test_weighing_needs_every_trace_to_have_a_confidence() -> None:
    assert weigh(["a", "b"], [1.0, None]) is None
    assert weigh([], []) is None
    assert weigh(["a"], [0.0]) is None


def test_confidence_can_outweigh_a_plurality() -> None:
    keys = ["a", "a", "b"]
    assert (got := weigh(keys, [1.0, 1.0, 5.0])) is not None
    assert got.winner == "b" and sum(got.counts) == pytest.approx(3)
    assert (same := weigh(keys, [2.0, 2.0, 2.0])) is not None
    assert same.winner == "a" and same.counts == pytest.approx((2.0, 1.0))


def test_the_least_confident_tenth_is_dropped_from_ten_traces_on() -> None:
    nine = weigh(["a"] * 9, [float(i + 1) for i in range(9)])
    ten = weigh(["a"] * 9 + [None], [5.0] * 9 + [0.5])
    assert nine is not None and nine.dropped == () and nine.kept == 9
    assert ten is not None and ten.dropped == (9,) and ten.kept == 10 - round(10 * (1 - KEEP))
    assert ten.counts == pytest.approx((9.0,))  # the unparsable trace was the least confident


keys_and_confidences = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", None]), st.floats(min_value=0.1, max_value=20)),
    min_size=1,
    max_size=30,
)


@given(keys_and_confidences, st.integers(min_value=0, max_value=29))
def test_more_confidence_in_a_winning_vote_never_lowers_its_posterior(
    votes: list[tuple[str | None, float]], pick: int
) -> None:
    keys, confidences = [k for k, _ in votes], [c for _, c in votes]
    before = weigh(keys, confidences)
    if before is None or before.winner is None:
        return
    i = pick % len(keys)
    if keys[i] != before.winner or before.dropped:
        return
    raised = [*confidences]
    raised[i] *= 2
    after = weigh(keys, raised)
    assert after is not None and after.winner == before.winner
    if not after.dropped:
        assert mode_posterior(after.counts) >= mode_posterior(before.counts) - 1e-9
