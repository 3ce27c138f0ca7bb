"""Voting strategies' shared half: what a sample votes for, and what a finished vote means.

A question's sample votes for its normalised answer. A code sample votes for its behaviour
(the results of the entry point on probe inputs) when the python verifier shows that execution
is allowed, otherwise for its program text. `decide` turns a tally into an outcome: the winner
(of the vote weighted by trace confidence when every sample has one, `shared.evidence`) is
checked by the verifier when there is one (a pass makes it `verified`, a failure `failed`),
and is `consensus` otherwise; the outcome carries the vote's evidence as its `Signal`, labelled
by the verdict (code checked by its stub's examples alone: `examples` evidence, and a code task
with a test fence labels that evidence of its twin, `shared.evidence`). Draws no samples
itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from vaultttc.engine.calibration import prior_confidence
from vaultttc.engine.confidence import verified_confidence
from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Status, Task, Verifier
from vaultttc.strategies.shared.behaviour import vote_keys
from vaultttc.strategies.shared.common import Candidate, Tally, finish, no_answer
from vaultttc.strategies.shared.evidence import (
    examples_signal,
    label_of,
    single_signal,
    twin_signal,
    vote_evidence,
)

__all__ = ["can_execute", "decide", "vote_keys"]


async def can_execute(verifier: Verifier | None, probe: Candidate, task: Task) -> bool:
    """Whether the python verifier runs code for this task (it ran `probe`)."""
    if task.kind != "code" or verifier is None or verifier.name != "python":
        return False
    verdict = await verifier.verify(probe.check, task)
    return verdict.passed is not None or verdict.score > 0


def _label(candidates: Sequence[Candidate], keys: Sequence[str | None]) -> dict[str, str]:
    """Display names for tied keys: the first voter's answer (or sample number for code)."""
    out: dict[str, str] = {}
    for c, k in zip(candidates, keys, strict=True):
        if k is not None and k not in out:
            out[k] = c.answer if c.answer is not None else f"sample {c.index + 1}"
    return out


async def decide(
    task: Task,
    sampler: Sampler,
    *,
    candidates: Sequence[Candidate],
    keys: Sequence[str | None],
    vote: Tally,
    verifier: Verifier | None,
    strategy: str,
    notes: Sequence[str] = (),
) -> Outcome:
    """The outcome of a finished vote, checked by the verifier when there is one."""
    said = [*notes, vote.describe_tie(_label(candidates, keys))]
    evidence = vote_evidence(candidates, keys, vote)
    if evidence.winner is None:
        return no_answer(task, sampler, strategy=strategy, notes=said, candidates=candidates)
    chosen = next(c for c, k in zip(candidates, keys, strict=True) if k == evidence.winner)
    votes = dict(vote.counts).get(evidence.winner, 0)
    said += [evidence.note, f"{votes} of {len(candidates)} samples agree"]
    verdict = await verifier.verify(chosen.check, task) if verifier is not None else None
    label, agreement = label_of(verdict), evidence.posterior
    signal = (
        examples_signal(verdict, task, agreement=agreement)
        or await twin_signal(verifier, chosen.check, task, agreement=agreement, label=label)
        or (
            single_signal(chosen, task, label=label)
            if len(candidates) == 1
            else evidence.signal(task, label=label)
        )
    )
    if verdict is None or verdict.passed is None:
        if verifier is not None and verdict is not None:
            said.append(f"{verifier.name} could not decide: {verdict.detail}")
        # A plurality of one is no consensus: nothing but the sample itself backs it.
        agreed: Status = "consensus" if votes >= 2 or len(candidates) == 1 else "unverified"
        return finish(
            task,
            sampler,
            strategy=strategy,
            chosen=chosen,
            status=agreed,
            confidence=prior_confidence(signal),
            evidence="vote",
            agreed=votes,
            notes=said,
            signal=signal,
        )
    status: Status = "failed"
    if verdict.passed:
        status = "consensus" if verdict.evidence == "judge" else "verified"
    confidence = verified_confidence(
        evidence=verdict.evidence,
        strength=verdict.strength,
        passed=verdict.passed,
        score=verdict.score,
        agreement=agreement,
    )
    return finish(
        task,
        sampler,
        strategy=strategy,
        chosen=chosen,
        status=status,
        confidence=confidence,
        evidence=verdict.evidence,
        agreed=votes,
        passed=votes if verdict.passed else 0,
        notes=[*said, verdict.detail],
        signal=signal,
    )
