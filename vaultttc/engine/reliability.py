"""How well confidence is calibrated: held-out folds, ECE, AUROC and a reliability table.

`assess` measures a kind's map the honest way: each outcome's confidence comes from a map fitted
(`calibration.fit_map`) on the *other* folds, so the numbers say how the vault's map does on
answers it was not fitted on; the prior's numbers on the same outcomes stand beside them.
`vaultttc calibration` prints these, and `bench/calibration.py` uses `auroc` and `reliability`.
Pure.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vaultttc.engine.calibration import (
    FOLDS,
    MIN_OUTCOMES,
    Labelled,
    MapKey,
    fit_map,
    folds,
    group_outcomes,
    prior_map,
)
from vaultttc.engine.confidence import calibrate, expected_calibration_error

__all__ = ["FOLDS", "Assessment", "Bin", "assess", "assess_all", "auroc", "reliability"]

Pairs = Sequence[tuple[float, bool]]


@dataclass(frozen=True, slots=True)
class Bin:
    """One row of a reliability table: answers whose confidence fell in [low, high)."""

    low: float
    high: float
    count: int
    confidence: float
    accuracy: float


def auroc(pairs: Pairs) -> float | None:
    """P(a right answer's confidence > a wrong one's), ties half (None without both kinds)."""
    right = [p for p, y in pairs if y]
    wrong = sorted(p for p, y in pairs if not y)
    if not right or not wrong:
        return None
    wins = 0.0
    for p in right:
        below, upto = bisect.bisect_left(wrong, p), bisect.bisect_right(wrong, p)
        wins += below + (upto - below) / 2
    return wins / (len(right) * len(wrong))


def reliability(pairs: Pairs, *, bins: int = 10) -> list[Bin]:
    """Equal-width bins of confidence with their mean confidence and accuracy (empty ones out)."""
    rows = []
    for b in range(bins):
        inside = [(p, y) for p, y in pairs if min(int(p * bins), bins - 1) == b]
        if inside:
            rows.append(
                Bin(
                    b / bins,
                    (b + 1) / bins,
                    len(inside),
                    sum(p for p, _ in inside) / len(inside),
                    sum(1.0 for _, y in inside if y) / len(inside),
                )
            )
    return rows


def held_out(pairs: Pairs, prior: tuple[tuple[float, float], ...]) -> list[tuple[float, bool]]:
    """Each pair's confidence from the map fitted (`calibration.fit_map`, as the vault fits
    its own) on the other folds (fold = index mod FOLDS)."""
    out = []
    for train, test in folds(pairs):
        knots = fit_map(train, prior)
        out += [(calibrate(raw, knots), y) for raw, y in test]
    return out


@dataclass(frozen=True, slots=True)
class Assessment:
    """One (provider, model, task, kind): its outcomes and how its maps do on them."""

    key: MapKey
    outcomes: int
    accuracy: float
    in_use: bool
    ece: float
    auroc: float | None
    prior_ece: float
    prior_auroc: float | None
    table: tuple[Bin, ...]


def assess(key: MapKey, pairs: Pairs) -> Assessment:
    prior = prior_map(key[3], key[2])
    cv = held_out(pairs, prior)
    before = [(calibrate(raw, prior), y) for raw, y in pairs]
    return Assessment(
        key=key,
        outcomes=len(pairs),
        accuracy=sum(1.0 for _, y in pairs if y) / max(1, len(pairs)),
        in_use=len(pairs) >= MIN_OUTCOMES,
        ece=expected_calibration_error(cv),
        auroc=auroc(cv),
        prior_ece=expected_calibration_error(before),
        prior_auroc=auroc(before),
        table=tuple(reliability(cv)),
    )


def assess_all(outcomes: Iterable[Labelled]) -> list[Assessment]:
    """An assessment per map key, the latest outcome per question and strategy only."""
    return [assess(key, pairs) for key, pairs in sorted(group_outcomes(outcomes).items())]
