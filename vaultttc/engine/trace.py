"""Trace confidence from token log-probabilities (DeepConf, Fu et al. 2025); votes weighted by it.

DeepConf's token confidence at position i is the negative mean log-probability of the k most
likely tokens there, C_i = -(1/k) * sum_j log P_i(j): large when the distribution is peaked
(the model is sure), small when it is flat. A trace's confidence is its *lowest group
confidence*: the lowest mean of C_i over a sliding window of `WINDOW` tokens (the paper's
2,048; a shorter trace is one group, so its confidence is its mean). A low window is a stretch
where the model was unsure, which predicts a wrong answer better than the trace's mean does.

`weigh` is DeepConf's offline vote: drop the least confident share of the traces, then sum the
confidence of the rest per answer. The filter keeps the most confident `KEEP` = 90% of the
traces (DeepConf-high). DeepConf-low keeps only the top 10% and saves more tokens at N = 512,
but with the 4 to 40 samples a vault draws it would leave one to four votes, and the paper
reports it losing accuracy on some models where the 90% filter never does. Fewer than ten
traces drop none, so small votes are plain weighted votes.

Pure arithmetic on numbers the providers extracted; no IO, no SDK types.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "FLOOR",
    "KEEP",
    "TOP_K",
    "WINDOW",
    "Weighted",
    "token_confidence",
    "trace_confidence",
    "weigh",
]

TOP_K = 20  # log-probabilities asked for per token: the most OpenAI's APIs return
WINDOW = 2048
KEEP = 0.9
FLOOR = -100.0  # an API's -9999 ("not in the top 20") or a -inf counts as this


def token_confidence(top_logprobs: Sequence[float]) -> float | None:
    """C_i from one position's top-k log-probabilities (None when there are none)."""
    values = [max(FLOOR, min(0.0, v)) for v in top_logprobs if not math.isnan(v)]
    if not values:
        return None
    return -sum(values) / len(values)


def trace_confidence(tokens: Sequence[float], *, window: int = WINDOW) -> float | None:
    """The lowest mean of `window` consecutive token confidences (None for an empty trace)."""
    if not tokens:
        return None
    size = max(1, min(window, len(tokens)))
    running = sum(tokens[:size])
    lowest = running
    for i in range(size, len(tokens)):
        running += tokens[i] - tokens[i - size]
        lowest = min(lowest, running)
    return round(lowest / size, 6)


@dataclass(frozen=True, slots=True)
class Weighted:
    """A confidence-weighted vote. `counts` are effective votes (winner first, the other
    answers in descending order, unparsable last) scaled so that they sum to the number of
    traces kept: the posterior stays as sure as that many samples make it, no surer."""

    winner: str | None
    counts: tuple[float, ...]
    kept: int
    dropped: tuple[int, ...] = ()
    totals: tuple[tuple[str, float], ...] = ()  # per answer, in order of first appearance
    unparsable: float = 0.0


def _kept(confidences: Sequence[float], keep: float) -> list[int]:
    drop = math.floor(len(confidences) * (1 - keep) + 1e-9)
    # least confident first; among equals the later sample goes first
    order = sorted(range(len(confidences)), key=lambda i: (confidences[i], -i))
    return sorted(order[drop:])


def weigh(
    keys: Sequence[str | None], confidences: Sequence[float | None], *, keep: float = KEEP
) -> Weighted | None:
    """DeepConf's filtered, weighted vote, or None unless every trace has a confidence."""
    if not keys or len(keys) != len(confidences) or any(c is None for c in confidences):
        return None
    values = [max(0.0, float(c)) for c in confidences if c is not None]
    kept = _kept(values, keep)
    total = sum(values[i] for i in kept)
    if total <= 0:
        return None
    scale = len(kept) / total
    weights: dict[str, float] = {}
    unparsable = 0.0
    for i in kept:
        key = keys[i]
        if key is None:
            unparsable += values[i] * scale
        else:
            weights[key] = weights.get(key, 0.0) + values[i] * scale
    dropped = tuple(i for i in range(len(keys)) if i not in set(kept))
    if not weights:
        return Weighted(None, (0.0, unparsable), len(kept), dropped, (), unparsable)
    top = max(weights.values())
    winner = next(k for k, w in weights.items() if w >= top - 1e-12)  # first seen wins ties
    others = sorted((w for k, w in weights.items() if k != winner), reverse=True)
    tail = [unparsable] if unparsable > 0 else []
    counts = (weights[winner], *others, *tail)
    return Weighted(winner, counts, len(kept), dropped, tuple(weights.items()), unparsable)
