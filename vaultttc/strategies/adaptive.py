"""`adaptive-consistency`: self-consistency that stops as soon as more samples would not change it.

Samples are drawn in waves, concurrently. After each sample arrives, the stopping rule
(`shared.stopping`) asks how likely the samples not drawn yet (up to `settings.samples`) are to
change the leading answer, under the Dirichlet posterior predictive of the votes so far, and
stops when that risk is at most a fifth of 1 - `settings.threshold` (1% at the default 0.95):
the answer is then, with that probability, the one the whole budget's majority would give.
When every sample has a trace confidence the votes are DeepConf's filtered, weighted ones
(`shared.evidence`), so it stops on the weighted vote and reports it. The samples still in
flight are cancelled. It never draws more than `settings.samples`.

A wave holds as many samples as the fewest further ones that could settle the vote (if all
agreed with the leader; never fewer than `min_wave`): the vote cannot settle earlier, so waves
cost no extra samples compared with drawing one at a time, while they run concurrently.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verifier
from vaultttc.providers.base import Request
from vaultttc.strategies.shared.common import Candidate, Tally, candidate, tally
from vaultttc.strategies.shared.evidence import VoteEvidence, vote_evidence
from vaultttc.strategies.shared.prompts import answer_request
from vaultttc.strategies.shared.stopping import RISK, may_stop
from vaultttc.strategies.shared.voting import can_execute, decide, vote_keys

__all__ = ["AdaptiveConsistency", "settled", "wave_size"]


def settled(evidence: VoteEvidence, threshold: float, *, remaining: int) -> bool:
    """Whether the `remaining` samples are unlikely enough to change the vote's answer."""
    return evidence.winner is not None and may_stop(
        evidence.lead, evidence.rivals, unparsable=evidence.unparsable,
        remaining=remaining, threshold=threshold,
    )  # fmt: skip


def wave_size(evidence: VoteEvidence, threshold: float, *, remaining: int) -> int:
    """The fewest further samples after which the vote could be settled (capped)."""
    rivals = evidence.rivals if evidence.winner is not None else []
    for extra in range(1, remaining + 1):
        if may_stop(
            evidence.lead + extra, rivals, unparsable=evidence.unparsable,
            remaining=remaining - extra, threshold=threshold,
        ):  # fmt: skip
            return extra
    return max(1, remaining)


@dataclass
class _Run:
    """The samples of one run so far, in sample order."""

    candidates: list[Candidate]
    keys: list[str | None]
    execute: bool | None = None

    def vote(self) -> Tally:
        return tally(self.keys)

    def evidence(self) -> VoteEvidence:
        return vote_evidence(self.candidates, self.keys, self.vote())


@dataclass(frozen=True, slots=True)
class AdaptiveConsistency:
    name: str = "adaptive-consistency"
    min_wave: int = 1

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        request = answer_request(
            task, sampler.capabilities, max_tokens=settings.max_tokens, steps=True
        )
        run = _Run([], [])
        stopped, start = False, 0
        while not stopped and start < settings.samples and not sampler.exhausted:
            size = max(
                self.min_wave,
                wave_size(run.evidence(), settings.threshold, remaining=settings.samples - start),
            )
            size = min(size, settings.samples - start)
            stopped = await self._wave(
                run,
                sampler,
                task=task,
                settings=settings,
                verifier=verifier,
                request=request,
                start=start,
                size=size,
            )
            start += size
        notes = [
            f"stopped after {len(run.candidates)} samples: the rest of the {settings.samples} "
            f"would change the answer with risk at most {RISK * (1 - settings.threshold):.1%}"
            if stopped
            else f"not settled at {settings.threshold:g} within {len(run.candidates)} samples"
        ]
        return await decide(
            task,
            sampler,
            candidates=run.candidates,
            keys=run.keys,
            vote=run.vote(),
            verifier=verifier,
            strategy=self.name,
            notes=notes,
        )

    async def _wave(
        self,
        run: _Run,
        sampler: Sampler,
        *,
        task: Task,
        settings: Settings,
        verifier: Verifier | None,
        request: Request,
        start: int,
        size: int,
    ) -> bool:
        """Draw one wave; True as soon as the vote settles (the rest of the wave is cancelled)."""
        # Sampler.stream is an async generator; closing it cancels the samples in flight.
        stream = sampler.stream(request, size, start=start)
        async with contextlib.aclosing(stream):
            async for completion in stream:
                new = candidate(completion, task)
                if run.execute is None and not new.cut:
                    run.execute = await can_execute(verifier, new, task)
                key = (
                    await vote_keys(
                        [new], task, execute=bool(run.execute), timeout_s=settings.timeout_s
                    )
                )[0]
                at = sum(c.index < new.index for c in run.candidates)
                run.candidates.insert(at, new)
                run.keys.insert(at, key)
                left = settings.samples - len(run.candidates)
                if left > 0 and settled(run.evidence(), settings.threshold, remaining=left):
                    return True
        return False
