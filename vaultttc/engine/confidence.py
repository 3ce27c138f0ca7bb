"""Confidence: what a number in [0, 1] next to an answer means, computed from the evidence.

A confidence is an estimate of the probability that the written answer is correct.

* Votes (self-consistency, adaptive-consistency): `mode_posterior` is the posterior
  probability that the leading answer is the mode of the model's answer distribution, under a
  Jeffreys Dirichlet(1/2, …) prior over the answers seen (with an "unseen alternative" when only
  one answer was seen, so two categories always remain). Two categories give the Beta closed
  form; more are integrated exactly in one dimension (Gamma representation). A settled vote is
  not a correct one (a model can agree with itself on a wrong date), so `vote_confidence` maps
  the posterior through a monotone (isotonic) map fitted on the benchmark pools.
* Verified answers: a reference check (numeric / exact / regex) is as strong as the verifier
  says (`Verdict.strength`). Executed tests pass candidates that are still wrong when the tests
  are few, so for them the raw value strength × (agreement posterior of the passing candidates'
  behaviour clusters) goes through a monotone map fitted on CodeT HumanEval. A judge is discounted
  (its strength is low and its confidence never exceeds `JUDGE_CAP`). A failed answer keeps
  (1 − strength) × its partial score: the chance the checks were wrong about it.

Pure arithmetic; no IO, no randomness. `expected_calibration_error` and `fit_isotonic` are the
tools the benchmark uses to measure and refit the constants below.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

__all__ = [
    "IDENTITY",
    "JEFFREYS",
    "JUDGE_CAP",
    "TESTS_MAP",
    "VOTE_MAP",
    "Knots",
    "calibrate",
    "expected_calibration_error",
    "fit_isotonic",
    "incomplete_beta",
    "mode_posterior",
    "verified_confidence",
    "vote_confidence",
]

JEFFREYS = 0.5
JUDGE_CAP = 0.6

Knots = tuple[tuple[float, float], ...]

# Monotone maps from a raw probability to a calibrated one: piecewise-linear through these
# (raw, calibrated) knots, flat beyond the ends. Fitted by `python bench/strategies.py --fit`
# (isotonic regression, pool-adjacent-violators) on the even-numbered problems of the pools with
# the maps set to the identity; the odd-numbered problems are held out.
# Votes: the labelled outcomes (vote posterior, accepted by `expect::` or not) of
# self-consistency and adaptive-consistency on the even-numbered problems of the vcot and fcot
# date pools, blocks of at least 20 (`python bench/calibration.py --fit`). A settled vote tops
# out near 0.85: a model can agree with itself on a wrong date; a tie of ones is not hopeless.
VOTE_MAP: Knots = (
    (0.4129, 0.2),
    (0.6668, 0.3784),
    (0.8536, 0.6316),
    (0.9287, 0.7613),
    (0.9711, 0.8281),
    (1.0, 0.8533),
)
# Executed tests: CodeT HumanEval best-of-n answers (N = 1, 4, 16, 100) that passed the visible
# examples (raw = 0.9 × agreement), or that ran with nothing to check them (raw 0). Passing a
# docstring's few examples makes code right about 4 times in 5, and agreement adds a little.
TESTS_MAP: Knots = (
    (0.0076, 0.1053),
    (0.3982, 0.6364),
    (0.675, 0.8077),
    (0.8498, 0.8667),
    (0.9, 0.8974),
)
IDENTITY: Knots = ((0.0, 0.0), (1.0, 1.0))


def calibrate(raw: float, knots: Knots) -> float:
    """The calibrated value of `raw`: linear between the knots, flat beyond the ends."""
    if raw <= knots[0][0]:
        return knots[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if raw <= x1:
            return y1 if x1 <= x0 else y0 + (y1 - y0) * (raw - x0) / (x1 - x0)
    return knots[-1][1]


# ---------------------------------------------------------------- special functions


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-14:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b): P(X <= x) for X ~ Beta(a, b)."""
    return _betainc(a, b, x)


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1 - math.exp(log_front) * _betacf(b, a, 1 - x) / b


def _gammainc(a: float, x: float) -> float:
    """Regularised lower incomplete gamma P(a, x): series below a + 1, continued fraction above."""
    if x <= 0:
        return 0.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        n = a
        while abs(term) > abs(total) * 1e-14:
            n += 1
            term *= x / n
            total += term
        return min(1.0, math.exp(log_front) * total)
    tiny = 1e-300
    b, c, d = x + 1 - a, 1 / tiny, 1 / (x + 1 - a)
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1 / (d if abs(d) > tiny else tiny)
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        if abs(d * c - 1) < 1e-14:
            break
    return max(0.0, 1 - math.exp(log_front) * h)


def _lead_is_max(alphas: Sequence[float]) -> float:
    """P(G_0 > max G_j) for independent G_j ~ Gamma(alpha_j): Simpson's rule on one integral.

    With Dirichlet(alpha) as normalised Gammas, this is P(p_0 is the largest proportion).
    """
    lead, rest = alphas[0], sorted(alphas[1:])
    distinct = {a: rest.count(a) for a in set(rest)}
    upper = lead + 12 * math.sqrt(lead) + 12
    steps = 400
    width = upper / steps
    total = 0.0
    for i in range(1, steps + 1):
        x = i * width
        weight = 1 if i == steps else (4 if i % 2 else 2)
        density = math.exp((lead - 1) * math.log(x) - x - math.lgamma(lead))
        cdfs = math.prod(_gammainc(a, x) ** k for a, k in distinct.items())
        total += weight * density * cdfs
    return min(1.0, max(0.0, total * width / 3))


# ---------------------------------------------------------------- votes


def mode_posterior(counts: Sequence[float], *, prior: float = JEFFREYS) -> float:
    """P(the first count's answer is the mode of the model's answer distribution).

    `counts[0]` is the leading answer's votes, the rest are the other answers' (unparsable
    samples may be one more category); effective (weighted) counts may be fractional.
    Dirichlet(counts + prior) posterior; one category is compared with an unseen alternative
    (count 0). 0.0 when nothing was counted.
    """
    return _mode_posterior(tuple(counts), prior)


@functools.lru_cache(maxsize=4096)
def _mode_posterior(counts: tuple[float, ...], prior: float) -> float:
    # memoised: the numeric integral costs milliseconds, and votes repeat the same few counts
    if not counts or counts[0] <= 0:
        return 0.0
    cats = [c + prior for c in counts if c > 0]
    lead, others = cats[0], cats[1:] or [prior]
    if len(others) == 1:
        return 1 - _betainc(lead, others[0], 0.5)
    return _lead_is_max([lead, *others])


def vote_confidence(counts: Sequence[int]) -> float:
    """Calibrated probability that a vote's winner is correct (see the module docstring)."""
    return calibrate(mode_posterior(counts), VOTE_MAP) if counts and counts[0] > 0 else 0.0


# ---------------------------------------------------------------- verified answers


def verified_confidence(
    *, evidence: str, strength: float, passed: bool, score: float, agreement: float
) -> float:
    """Probability that a checked answer is correct.

    `strength` is the verifier's (what a pass proves); `agreement` the posterior that the chosen
    candidate's behaviour (or answer) is the mode among the candidates that scored as well.
    Reference checks keep their strength; executed tests (`tests`, `examples`, and an author's
    `check`, which is executed the same way) go through `TESTS_MAP`; a judge's grade is
    discounted by agreement and capped at `JUDGE_CAP`.
    """
    if not passed:
        return max(0.0, min(1.0, (1 - strength) * score))
    if evidence in ("tests", "examples", "check"):
        return calibrate(strength * agreement, TESTS_MAP)
    if evidence == "judge":
        return min(JUDGE_CAP, strength * agreement)
    return strength


# ---------------------------------------------------------------- measurement


def expected_calibration_error(pairs: Sequence[tuple[float, bool]], *, bins: int = 10) -> float:
    """ECE: |mean confidence − accuracy| per equal-width bin, weighted by the bin's share."""
    if not pairs:
        return 0.0
    total = 0.0
    for b in range(bins):
        inside = [(p, y) for p, y in pairs if min(int(p * bins), bins - 1) == b]
        if inside:
            gap = sum(p for p, _ in inside) - sum(1.0 for _, y in inside if y)
            total += abs(gap)
    return total / len(pairs)


def fit_isotonic(pairs: Sequence[tuple[float, bool]], *, digits: int = 4) -> Knots:
    """Knots of the monotone map that best fits (raw, correct) pairs in squared error.

    Pool-adjacent-violators over the distinct raw values: each block becomes one knot at its
    mean raw value and its accuracy.
    """
    totals: dict[float, list[float]] = {}
    for raw, correct in pairs:
        entry = totals.setdefault(raw, [0.0, 0.0])
        entry[0] += 1.0 if correct else 0.0
        entry[1] += 1.0
    blocks: list[list[float]] = []  # [sum of raw, sum of correct, count]
    for raw in sorted(totals):
        hits, count = totals[raw]
        blocks.append([raw * count, hits, count])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]
    return tuple((round(sx / n, digits), round(sy / n, digits)) for sx, sy, n in blocks)
