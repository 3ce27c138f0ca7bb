"""`adaptive-consistency`: self-consistency that stops as soon as the vote is settled.

Samples are drawn in waves, concurrently. After each sample arrives, the stopping rule asks
whether the leading answer is the mode of the model's answer distribution with posterior
probability at least `settings.threshold` (default 0.95): a Beta posterior when two answers
compete (one seen answer is compared with an unseen alternative), a Dirichlet posterior when
more do, both with the Jeffreys prior (see `vaultttc.engine.confidence.mode_posterior`). When it is,
the samples still in flight are cancelled. It never draws more than `settings.samples`.

A wave holds as many samples as the fewest further ones that could settle the vote (if all
agreed with the leader; never fewer than `min_wave`): the vote cannot settle earlier, so waves
cost no extra samples compared with drawing one at a time, while they run concurrently.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from vaultttc.engine.confidence import mode_posterior
from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verifier
from vaultttc.providers.base import Request
from vaultttc.strategies.shared.common import Candidate, Tally, candidate, tally
from vaultttc.strategies.shared.prompts import answer_request
from vaultttc.strategies.shared.voting import can_execute, decide, vote_keys

__all__ = ["AdaptiveConsistency", "settled", "wave_size"]


def settled(vote: Tally, threshold: float) -> bool:
    return vote.winner is not None and mode_posterior(vote.posterior_counts()) >= threshold


def wave_size(vote: Tally, threshold: float, *, remaining: int) -> int:
    """The fewest further samples after which the vote could be settled (capped)."""
    counts = (
        vote.posterior_counts()
        if vote.winner is not None
        else [0, *([vote.unparsable] if vote.unparsable else [])]
    )
    for extra in range(1, remaining + 1):
        if mode_posterior([counts[0] + extra, *counts[1:]]) >= threshold:
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
                wave_size(run.vote(), settings.threshold, remaining=settings.samples - start),
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
            f"stopped after {len(run.candidates)} samples: the vote was settled at "
            f"{settings.threshold:g}"
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
                if run.execute is None:
                    run.execute = await can_execute(verifier, new, task)
                key = (
                    await vote_keys([new], task, execute=run.execute, timeout_s=settings.timeout_s)
                )[0]
                at = sum(c.index < new.index for c in run.candidates)
                run.candidates.insert(at, new)
                run.keys.insert(at, key)
                if settled(run.vote(), settings.threshold):
                    return True
        return False
