"""`thinking`: one sample with a thinking budget.

Where the provider has extended thinking (`Capabilities.thinking`), `thinking_budget` goes to
`Request.thinking_budget` and the provider maps it to the model's mechanism; elsewhere the
model is asked to reason step by step with that budget as `max_tokens`. Either way the answer
is read from the reply's text only: thinking never becomes part of the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verifier
from vaultttc.strategies.shared.prompts import answer_request
from vaultttc.strategies.shared.single import answer_once

__all__ = ["DEFAULT_THINKING_BUDGET", "Thinking"]

# The seed's "easy" budget: what a thinking run gets when the note names none.
DEFAULT_THINKING_BUDGET = 2000


@dataclass(frozen=True, slots=True)
class Thinking:
    name: str = "thinking"

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        budget = settings.thinking_budget or DEFAULT_THINKING_BUDGET
        caps = sampler.capabilities
        if caps.thinking:
            request = answer_request(
                task, caps, max_tokens=settings.max_tokens, thinking_budget=budget
            )
            said = f"extended thinking, budget {budget} tokens"
        else:
            request = answer_request(task, caps, max_tokens=budget, steps=True)
            said = f"no extended thinking here: step-by-step prompt with {budget} tokens"
        return await answer_once(
            task, request, sampler, verifier=verifier, strategy=self.name, notes=[said]
        )
