"""`effort`: one sample at a reasoning effort (`low`/`medium`/`high`…) the provider offers.

The effort must be one of `Capabilities.efforts`; anything else is a `ConfigError` that says
what the provider does offer, before any sample is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultttc.engine.problems import effort_problem
from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verifier
from vaultttc.errors import ConfigError
from vaultttc.strategies.shared.prompts import answer_request
from vaultttc.strategies.shared.single import answer_once

__all__ = ["Effort"]


@dataclass(frozen=True, slots=True)
class Effort:
    name: str = "effort"

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        caps = sampler.capabilities
        problem = effort_problem(settings, caps, sampler.lane.provider.name)
        if problem is not None:
            raise ConfigError(problem)
        request = answer_request(task, caps, max_tokens=settings.max_tokens, effort=settings.effort)
        return await answer_once(
            task,
            request,
            sampler,
            verifier=verifier,
            strategy=self.name,
            notes=[f"reasoning effort {settings.effort}"],
        )
