"""`direct`: one sample with the plain prompt; the latency-critical choice.

Composes the sampler and the optional verifier through `single.answer_once`; sends no thinking
budget and no effort.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verifier
from vaultttc.strategies.shared.prompts import answer_request
from vaultttc.strategies.shared.single import answer_once

__all__ = ["Direct"]


@dataclass(frozen=True, slots=True)
class Direct:
    name: str = "direct"

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        request = answer_request(task, sampler.capabilities, max_tokens=settings.max_tokens)
        return await answer_once(task, request, sampler, verifier=verifier, strategy=self.name)
