"""When adaptive-consistency may stop: the chance that the rest of its budget changes the answer.

Self-consistency with N samples answers with the majority of N. Adaptive-consistency wants that
answer with fewer samples, so it asks, after each sample, how likely the samples it has not
drawn yet are to change the leader: for each rival answer (and for an answer not seen yet),
the posterior predictive probability that after the remaining R samples the rival has at least
as many votes as the leader, summed over rivals (a union bound, so the risk is never
understated). Under a Dirichlet posterior with Jeffreys pseudo-counts (`PRIOR`), the R samples
split into those for the leader or that rival, M ~ BetaBinomial(R, a_lead + a_rival, a_rest),
and of those the leader's share is BetaBinomial(M, a_lead, a_rival); the risk is a double sum
of those, computed exactly (past `FAR` remaining samples, by its limit: the posterior
probability that the rival's rate is at least the leader's). Unparsable samples never vote
but take budget, so they make a change less likely. The vote stops when the risk is at most
`RISK` times (1 - threshold): a fifth, because the question is asked again after every sample
and each look may stop it.

Compared with the published rules, the Beta rule of Adaptive-Consistency (Aggarwal et al.,
2023: P(p1 > p2) over the top two answers) and ESC (Li et al., 2024: a window of identical
answers), this one knows the budget: when few samples are left, a modest lead is already
final; when many are, a lead the Beta rule would accept is not. Pure arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from vaultttc.engine.confidence import incomplete_beta

__all__ = ["FAR", "PRIOR", "RISK", "UNSEEN", "change_risk", "may_stop"]

PRIOR = 0.5  # Jeffreys pseudo-count of each answer seen
UNSEEN = 0.1  # pseudo-count of an answer not seen yet
RISK = 0.2  # the risk allowed is this share of (1 - threshold): 0.01 at the default 0.95
FAR = 256  # past this many remaining samples, the limit of an endless budget is used


def _beta_binomial(n: int, a: float, b: float) -> list[float]:
    """P(X = k), k = 0..n, for X ~ BetaBinomial(n, a, b), by the ratio of successive terms."""
    if b <= 0:
        return [0.0] * n + [1.0]
    log_first = math.lgamma(a + b) + math.lgamma(n + b) - math.lgamma(b) - math.lgamma(n + a + b)
    pmf = [math.exp(log_first)]
    for k in range(n):
        pmf.append(pmf[-1] * (n - k) / (k + 1) * (k + a) / (n - k - 1 + b))
    return pmf


@lru_cache(maxsize=65536)
def _overtake_far(lead: float, rival: float, rival_prior: float) -> float:
    """`_overtake`'s limit for a budget without end: P(the rival's rate >= the leader's)."""
    return incomplete_beta(lead + PRIOR, rival + rival_prior, 0.5)


@lru_cache(maxsize=65536)
def _overtake(
    lead: float, rival: float, rest: float, *, remaining: int, rival_prior: float, ties: bool
) -> float:
    """P(the rival ends with more votes than the leader (`ties`: or as many) after `remaining`
    more samples)."""
    a_lead, a_rival = lead + PRIOR, rival + rival_prior
    gap = lead - rival
    total = 0.0
    for m, p_m in enumerate(_beta_binomial(remaining, a_lead + a_rival, rest)):
        if p_m < 1e-15 or m < gap:
            continue
        # the rival wins when the leader gets less than (m - gap) / 2 of the m samples
        half = (m - gap) / 2
        most = math.floor(half + 1e-9) if ties else math.ceil(half - 1e-9) - 1
        if most < 0:
            continue
        total += p_m * sum(_beta_binomial(m, a_lead, a_rival)[: most + 1])
    return min(1.0, total)


def change_risk(
    lead: float,
    rivals: Sequence[tuple[float, bool]],
    *,
    unparsable: float = 0.0,
    remaining: int,
    budget: float = 1.0,
) -> float:
    """An upper bound on P(the remaining samples change the leader), or a value above `budget`.

    `lead` and `rivals` are the voting answers' counts (effective counts for a weighted vote),
    each rival with whether it would win a tie (it appeared before the leader; an answer not
    seen yet never does); `unparsable` samples vote for nothing. Stops adding as soon as the
    risk passes `budget`, since the caller only compares it with that.
    """
    if remaining <= 0 or lead <= 0:
        return 0.0 if remaining <= 0 else 1.0
    pool = sum(r + PRIOR for r, _ in rivals) + (unparsable + PRIOR if unparsable > 0 else 0.0)
    ranked = sorted(rivals, reverse=True)
    risk = 0.0
    for rival, prior, ties in [*((r, PRIOR, t) for r, t in ranked), (0.0, UNSEEN, False)]:
        rest = pool + UNSEEN - (rival + prior)  # all but the leader and this rival
        if remaining > FAR:
            risk += _overtake_far(round(lead, 6), round(rival, 6), prior)
        else:
            risk += _overtake(
                round(lead, 6), round(rival, 6), round(rest, 6),
                remaining=remaining, rival_prior=prior, ties=ties,
            )  # fmt: skip
        if risk > budget:
            break
    return risk


def may_stop(
    lead: float,
    rivals: Sequence[tuple[float, bool]],
    *,
    unparsable: float,
    remaining: int,
    threshold: float,
) -> bool:
    """Whether the vote may stop: the rest of the budget changes its answer with risk at most
    `RISK` * (1 - threshold)."""
    budget = RISK * (1 - threshold)
    risk = change_risk(lead, rivals, unparsable=unparsable, remaining=remaining, budget=budget)
    return lead > 0 and risk <= budget
