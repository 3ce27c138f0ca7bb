"""The raw evidence behind a strategy's answer, as the `tasks.Signal` calibration works on.

One sample is `single` evidence, or `trace` evidence when its provider gave a trace
confidence. A vote is `vote` evidence (the mode posterior of its counts), or `weighted-vote`
when every sample has a trace confidence: then the vote is DeepConf's filtered, weighted one
(`engine.trace.weigh`), its winner may differ from the plurality, and the posterior is taken
over the effective counts. Adaptive-consistency stops on that same posterior, and the answer's
confidence comes from it, so stopping and confidence use one piece of evidence.

`label_of` says what a verdict teaches calibration: a reference answer's, the note's tests' or
a check's pass or fail; a stub's few docstring examples and a judge's grade are too weak to
label anything. A code answer checked by its stub's examples alone is `examples` evidence:
its raw value is the confidence the shipped maps give that verdict (`examples_signal`), which
the vault's map then recalibrates per model. A code task with a test fence teaches that map
through its *twin* (`twin_task`): the same task with the stub's examples only, the evidence an
unlabelled copy of the question would have had. Pure, but for `twin_signal`, which asks the
verifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from vaultttc.engine.confidence import mode_posterior, verified_confidence
from vaultttc.engine.tasks import Signal, SignalKind, Task, Verdict, Verifier
from vaultttc.engine.trace import weigh
from vaultttc.strategies.shared.common import Candidate, Tally

__all__ = [
    "LABELLING",
    "VoteEvidence",
    "crashed",
    "examples_signal",
    "label_of",
    "single_signal",
    "twin_signal",
    "twin_task",
    "twin_verdict",
    "vote_evidence",
]


LABELLING = ("reference", "tests", "check")  # verdicts a vault may learn from


def label_of(verdict: Verdict | None) -> bool | None:
    """The label a verdict gives the answer it judged (None: it cannot teach calibration)."""
    if verdict is None or verdict.passed is None or verdict.evidence not in LABELLING:
        return None
    return verdict.passed


def examples_signal(
    verdict: Verdict | None, task: Task, *, agreement: float, label: bool | None = None
) -> Signal | None:
    """A verdict of the stub's examples as evidence to calibrate (None for any other verdict)."""
    if verdict is None or verdict.evidence != "examples" or verdict.passed is None:
        return None
    raw = verified_confidence(
        evidence=verdict.evidence, strength=verdict.strength, passed=verdict.passed,
        score=verdict.score, agreement=agreement,
    )  # fmt: skip
    return Signal("examples", round(raw, 6), label, task.kind)


def twin_task(task: Task, *, runs: bool = False) -> Task | None:
    """A code task with a test fence as an unlabelled copy of it would be: the stub's examples
    are all that check it. None for any other task, and for a stub without `>>>` examples
    unless `runs` (that twin only checks the program runs: no run is spent on it otherwise)."""
    if task.kind != "code" or not (task.tests or "").strip():
        return None
    return replace(task, tests=None) if runs or ">>>" in (task.stub or "") else None


async def twin_verdict(
    verifier: Verifier | None, check: str, task: Task, *, runs: bool = False
) -> Verdict | None:
    """The verdict `check` gets on the task's twin (`twin_task`), None without a twin."""
    twin = twin_task(task, runs=runs)
    return await verifier.verify(check, twin) if twin is not None and verifier else None


def crashed(verdict: Verdict | None) -> bool:
    """A twin's verdict on a program that does not even run: the twin writes it as failed, with
    the verifier's confidence, so it is no example of unchecked evidence."""
    return verdict is not None and verdict.passed is False and verdict.evidence == "none"


async def twin_signal(
    verifier: Verifier | None, check: str, task: Task, *, agreement: float, label: bool | None
) -> Signal | None:
    """The `examples` evidence `check` would have had on the task's twin, labelled by the
    task's own verdict; None when there is no twin or its stub has no examples."""
    if label is None:
        return None
    twin = await twin_verdict(verifier, check, task)
    return examples_signal(twin, task, agreement=agreement, label=label)


def single_signal(chosen: Candidate, task: Task, *, label: bool | None = None) -> Signal:
    if chosen.confidence is not None:
        return Signal("trace", chosen.confidence, label, task.kind)
    return Signal("single", 1.0, label, task.kind)


@dataclass(frozen=True, slots=True)
class VoteEvidence:
    """What a vote says: its winner, each answer's (effective) votes in order of first
    appearance, the unparsable samples', and the kind of evidence it is."""

    winner: str | None
    totals: tuple[tuple[str, float], ...]
    unparsable: float
    kind: SignalKind
    note: str = ""

    @property
    def lead(self) -> float:
        return dict(self.totals).get(self.winner, 0.0) if self.winner is not None else 0.0

    @property
    def rivals(self) -> list[tuple[float, bool]]:
        """The other answers' votes, each with whether it would win a tie with the winner
        (ties go to the answer seen first)."""
        keys = [k for k, _ in self.totals]
        at = keys.index(self.winner) if self.winner in keys else len(keys)
        return [(v, i < at) for i, (k, v) in enumerate(self.totals) if k != self.winner]

    @property
    def counts(self) -> tuple[float, ...]:
        """Winner first, the others in descending order, unparsable last: the posterior's."""
        others = sorted((v for v, _ in self.rivals), reverse=True)
        return (self.lead, *others, *([self.unparsable] if self.unparsable else []))

    @property
    def posterior(self) -> float:
        return mode_posterior(self.counts) if self.winner is not None else 0.0

    def signal(self, task: Task, *, label: bool | None = None) -> Signal:
        return Signal(self.kind, round(self.posterior, 6), label, task.kind)


def vote_evidence(
    candidates: Sequence[Candidate], keys: Sequence[str | None], vote: Tally
) -> VoteEvidence:
    """The vote's evidence: weighted by trace confidence when every sample has one."""
    counts = tuple((k, float(n)) for k, n in vote.counts)
    plain = VoteEvidence(vote.winner, counts, float(vote.unparsable), "vote")
    weighted = weigh(keys, [c.confidence for c in candidates])
    if weighted is None or weighted.winner is None:
        return plain
    note = "votes weighted by trace confidence"
    if weighted.dropped:
        note += f", the {len(weighted.dropped)} least confident of {len(keys)} dropped"
    if weighted.winner != vote.winner:
        note += " (they outweigh the plurality)"
    return VoteEvidence(
        weighted.winner, weighted.totals, weighted.unparsable, "weighted-vote", note
    )
