"""One sample, optionally verified: the shared core of `direct`, `thinking` and `effort`.

The strategies differ only in the request they send; this module draws that one sample, reads
the answer out of its text (never its thinking), verifies it when a verifier exists, and
returns the outcome with its evidence (`single`, or `trace` with a trace confidence): an
unchecked sample is worth its model's calibrated single-sample accuracy; code checked by its
stub's examples alone is `examples` evidence (`shared.evidence`). A labelled code sample whose
program would not even run on the task's twin teaches nothing: the twin writes it as failed.
No prompt building and no retries here.
"""

from __future__ import annotations

from collections.abc import Sequence

from vaultttc.engine.calibration import prior_confidence
from vaultttc.engine.confidence import mode_posterior, verified_confidence
from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Status, Task, Verifier
from vaultttc.providers.base import Request
from vaultttc.strategies.shared.common import candidate, finish, no_answer
from vaultttc.strategies.shared.evidence import (
    crashed,
    examples_signal,
    label_of,
    single_signal,
    twin_verdict,
)

__all__ = ["answer_once"]


async def answer_once(
    task: Task,
    request: Request,
    sampler: Sampler,
    *,
    verifier: Verifier | None,
    strategy: str,
    notes: Sequence[str] = (),
) -> Outcome:
    """Draw one sample for `request`, verify it if possible, and say what it is worth."""
    drawn = await sampler.sample(request, 1)
    if not drawn:
        return no_answer(task, sampler, strategy=strategy, chosen=None, notes=notes)
    chosen = candidate(drawn[0], task)
    if chosen.cut or (chosen.key is None and task.kind != "code"):
        return no_answer(task, sampler, strategy=strategy, chosen=chosen, notes=notes,
                         candidates=[chosen])  # fmt: skip
    verdict = await verifier.verify(chosen.check, task) if verifier is not None else None
    label, agreement = label_of(verdict), mode_posterior([1])
    twin = None if label is None else await twin_verdict(verifier, chosen.check, task, runs=True)
    evidence = (
        examples_signal(verdict, task, agreement=agreement)
        or examples_signal(twin, task, agreement=agreement, label=label)
        or single_signal(chosen, task, label=label)
    )
    signal = None if crashed(twin) else evidence
    if verifier is None or verdict is None or verdict.passed is None:
        said = list(notes)
        if verifier is not None and verdict is not None:
            said.append(f"{verifier.name} could not decide: {verdict.detail}")
        return finish(
            task,
            sampler,
            strategy=strategy,
            chosen=chosen,
            status="unverified",
            confidence=prior_confidence(evidence),
            evidence="none",
            agreed=1,
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
        agreed=1,
        passed=int(verdict.passed),
        notes=[*notes, verdict.detail],
        signal=signal,
    )
