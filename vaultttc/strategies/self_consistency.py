"""`self-consistency`: N reasoning samples, answers extracted and normalised, majority vote.

Every sample is asked to reason step by step; its final answer is extracted (last "answer
is …", boxed, `####`, a fenced result, else the final line) and normalised (numbers, dates,
fractions) so that equal answers vote together. Unparsable samples vote for nothing. Ties go to
the answer that appeared first, and the tie is reported in the outcome's note.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verifier
from vaultttc.strategies.shared.common import candidate, tally
from vaultttc.strategies.shared.prompts import answer_request
from vaultttc.strategies.shared.voting import can_execute, decide, vote_keys

__all__ = ["SelfConsistency"]


@dataclass(frozen=True, slots=True)
class SelfConsistency:
    name: str = "self-consistency"

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        request = answer_request(
            task, sampler.capabilities, max_tokens=settings.max_tokens, steps=True
        )
        drawn = await sampler.sample(request, settings.samples)
        candidates = [candidate(c, task) for c in drawn]
        first = next((c for c in candidates if not c.cut), None)  # one that can be run
        execute = first is not None and await can_execute(verifier, first, task)
        keys = await vote_keys(candidates, task, execute=execute, timeout_s=settings.timeout_s)
        notes = ["votes by behaviour on probe inputs"] if execute else []
        return await decide(
            task,
            sampler,
            candidates=candidates,
            keys=keys,
            vote=tally(keys),
            verifier=verifier,
            strategy=self.name,
            notes=notes,
        )
