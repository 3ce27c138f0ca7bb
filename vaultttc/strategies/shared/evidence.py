"""The raw evidence behind a strategy's answer, as the `tasks.Signal` calibration works on.

One sample is `single` evidence, or `trace` evidence when its provider gave a trace
confidence. A vote is `vote` evidence (the mode posterior of its counts), or `weighted-vote`
when every sample has a trace confidence: then the vote is DeepConf's filtered, weighted one
(`engine.trace.weigh`), its winner may differ from the plurality, and the posterior is taken
over the effective counts. Adaptive-consistency stops on that same posterior, and the answer's
confidence comes from it, so stopping and confidence use one piece of evidence.

`labelled` says whether a verdict may teach calibration: a reference, tests or examples
verdict that decided; a judge's grade is too weak to label anything. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vaultttc.engine.calibration import prior_confidence
from vaultttc.engine.confidence import mode_posterior
from vaultttc.engine.tasks import Signal, SignalKind, Task, Verdict
from vaultttc.engine.trace import weigh
from vaultttc.strategies.shared.common import Candidate, Tally

__all__ = ["VoteEvidence", "label_of", "single_signal", "unchecked", "vote_evidence"]


def label_of(verdict: Verdict | None) -> bool | None:
    """The label a verdict gives the answer it judged (None: it cannot teach calibration)."""
    if verdict is None or verdict.passed is None or verdict.evidence in ("judge", "none"):
        return None
    return verdict.passed


def single_signal(chosen: Candidate, task: Task, *, label: bool | None = None) -> Signal:
    if chosen.confidence is not None:
        return Signal("trace", chosen.confidence, label, task.kind)
    return Signal("single", 1.0, label, task.kind)


@dataclass(frozen=True, slots=True)
class VoteEvidence:
    """What a vote says: its winner, the counts its posterior is taken over, and their kind."""

    winner: str | None
    counts: tuple[float, ...]
    kind: SignalKind
    note: str = ""

    @property
    def posterior(self) -> float:
        return mode_posterior(self.counts) if self.winner is not None else 0.0

    def signal(self, task: Task, *, label: bool | None = None) -> Signal:
        return Signal(self.kind, round(self.posterior, 6), label, task.kind)


def vote_evidence(
    candidates: Sequence[Candidate], keys: Sequence[str | None], vote: Tally
) -> VoteEvidence:
    """The vote's evidence: weighted by trace confidence when every sample has one."""
    plain = VoteEvidence(vote.winner, tuple(vote.posterior_counts()), "vote")
    weighted = weigh(keys, [c.confidence for c in candidates])
    if weighted is None or weighted.winner is None:
        return plain
    note = "votes weighted by trace confidence"
    if weighted.dropped:
        note += f", the {len(weighted.dropped)} least confident of {len(keys)} dropped"
    if weighted.winner != vote.winner:
        note += " (they outweigh the plurality)"
    return VoteEvidence(weighted.winner, weighted.counts, "weighted-vote", note)


def unchecked(signal: Signal) -> float:
    """The confidence of an answer nothing checked, before the vault's own calibration."""
    return prior_confidence(signal)
