"""One sample, optionally verified: the shared core of `direct`, `thinking` and `effort`.

The strategies differ only in the request they send; this module draws that one sample, reads
the answer out of its text (never its thinking), verifies it when a verifier exists, and
returns the outcome. No prompt building and no retries here.
"""

from __future__ import annotations

from collections.abc import Sequence

from vaultttc.engine.confidence import mode_posterior, verified_confidence, vote_confidence
from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Status, Task, Verifier
from vaultttc.providers.base import Request
from vaultttc.strategies.shared.common import candidate, finish

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
        return finish(
            task,
            sampler,
            strategy=strategy,
            chosen=None,
            status="failed",
            confidence=0.0,
            evidence="none",
            notes=notes,
        )
    chosen = candidate(drawn[0], task)
    if chosen.key is None and task.kind != "code":
        return finish(
            task,
            sampler,
            strategy=strategy,
            chosen=chosen,
            status="failed",
            confidence=0.0,
            evidence="none",
            notes=notes,
        )
    if verifier is None:
        return finish(
            task,
            sampler,
            strategy=strategy,
            chosen=chosen,
            status="unverified",
            confidence=vote_confidence([1]),
            evidence="none",
            agreed=1,
            notes=notes,
        )
    verdict = await verifier.verify(chosen.check, task)
    if verdict.passed is None:
        said = [*notes, f"{verifier.name} could not decide: {verdict.detail}"]
        return finish(
            task,
            sampler,
            strategy=strategy,
            chosen=chosen,
            status="unverified",
            confidence=vote_confidence([1]),
            evidence="none",
            agreed=1,
            notes=said,
        )
    status: Status = "failed"
    if verdict.passed:
        status = "consensus" if verdict.evidence == "judge" else "verified"
    confidence = verified_confidence(
        evidence=verdict.evidence,
        strength=verdict.strength,
        passed=verdict.passed,
        score=verdict.score,
        agreement=mode_posterior([1]),
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
    )
