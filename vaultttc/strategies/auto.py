"""`auto`: the budget controller. One cheap call rates the task easy or hard, then the seed's
decision table picks the strategy and its budget.

| situation (first match)                         | strategy             | easy → hard budget      |
|-------------------------------------------------|----------------------|-------------------------|
| `latency_critical`                              | direct (no rating)   | one sample              |
| a check that grades partial solutions (`score`) | beam (search)        | N = 4 → all samples     |
| a verifier (reference, tests, check, or judge)  | best-of-n            | N = 4 → all samples     |
| `max_cost_usd` set (cost-critical)              | self-consistency     | N = 4 → 8               |
| open-ended question (no short answer asked for) | thinking             | 2,000 → 16,000 tokens   |
| short-answer question without a verifier        | adaptive-consistency | cap 4 → all samples     |

The seed's table sends "math / code with verifier" to search and "search exploitable" to
best-of-N with a verifier: a check that sets `score` gives search the partial credit it ranks
partial solutions by, so it gets beam search; a pass/fail verifier gives search nothing to
climb, so it gets best-of-n. The rating call counts as one of `settings.samples`; with fewer
than two samples there is no rating (the task is treated as easy). An unclear rating counts as
hard. The chosen strategy gets the samples that remain. The outcome's strategy reads
`auto→<chosen>` and its note says what was chosen and why.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Strategy, Task, Verifier
from vaultttc.strategies.adaptive import AdaptiveConsistency
from vaultttc.strategies.beam import Beam
from vaultttc.strategies.best_of_n import BestOfN
from vaultttc.strategies.direct import Direct
from vaultttc.strategies.self_consistency import SelfConsistency
from vaultttc.strategies.shared.prompts import classify_request
from vaultttc.strategies.thinking import Thinking
from vaultttc.verifiers.check_harness import grades_partially

__all__ = ["Auto", "Route", "route"]

Difficulty = Literal["easy", "hard"]
EASY_SAMPLES, COST_SAMPLES = 4, (4, 8)
EASY_THINKING, HARD_THINKING = 2000, 16000
_SHORT_ANSWER = re.compile(
    r"\d|\b(?:how (?:many|much|long|old|far)|what (?:is|was|will) the (?:date|day|value|number|"
    r"sum|total|product|result|answer)|which|calculate|compute|solve|evaluate|find the|"
    r"true or false|yes or no|mm/dd/yyyy)\b|\([a-e]\)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Route:
    strategy: Strategy
    settings: Settings
    reason: str


def _rating(text: str) -> Difficulty | None:
    words = set(re.findall(r"[a-z]+", text.lower()))
    if ("hard" in words) != ("easy" in words):
        return "hard" if "hard" in words else "easy"
    return None


def route(
    task: Task,
    settings: Settings,
    *,
    verifier: Verifier | None,
    difficulty: Difficulty,
    remaining: int,
) -> Route:
    """The decision table (see the module docstring) as a pure function."""
    easy = difficulty == "easy"
    if settings.latency_critical:
        return Route(Direct(), settings, "latency-critical: one direct sample")
    if verifier is not None:
        n = min(EASY_SAMPLES, remaining) if easy else remaining
        if verifier.name == "check" and task.check is not None and grades_partially(task.check):
            # Search counts its budget in samples drawn, the rating call included.
            drawn = settings.samples - remaining
            return Route(
                Beam(),
                dataclasses.replace(settings, samples=drawn + n),
                f"the check grades partial solutions: beam search over {n} samples",
            )
        how = "a judge" if verifier.name == "judge" else f"the {verifier.name} verifier"
        return Route(
            BestOfN(),
            dataclasses.replace(settings, samples=n),
            f"{how} can check candidates: best-of-{n}",
        )
    if settings.max_cost_usd is not None:
        n = min(COST_SAMPLES[0 if easy else 1], remaining)
        return Route(
            SelfConsistency(),
            dataclasses.replace(settings, samples=n),
            f"cost-critical (max_cost_usd {settings.max_cost_usd:g}): self-consistency over {n}",
        )
    if task.kind != "code" and not _SHORT_ANSWER.search(task.question):
        budget = EASY_THINKING if easy else (settings.thinking_budget or HARD_THINKING)
        budget = min(budget, settings.thinking_budget or budget)
        return Route(
            Thinking(),
            dataclasses.replace(settings, thinking_budget=budget),
            f"open-ended, no verifier: thinking with {budget} tokens",
        )
    n = min(EASY_SAMPLES, remaining) if easy else remaining
    return Route(
        AdaptiveConsistency(),
        dataclasses.replace(settings, samples=n),
        f"short answer, no verifier: adaptive-consistency capped at {n}",
    )


@dataclass(frozen=True, slots=True)
class Auto:
    name: str = "auto"

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        difficulty, rated = await self._classify(task, settings, sampler)
        chosen = route(
            task, settings, verifier=verifier, difficulty=difficulty, remaining=sampler.remaining
        )
        outcome = await chosen.strategy.run(
            task, chosen.settings, sampler=sampler, verifier=verifier
        )
        note = f"auto: {rated}; {chosen.reason}"
        return dataclasses.replace(
            outcome,
            strategy=f"auto→{outcome.strategy}",
            note=f"{note}; {outcome.note}" if outcome.note else note,
        )

    async def _classify(
        self, task: Task, settings: Settings, sampler: Sampler
    ) -> tuple[Difficulty, str]:
        if settings.latency_critical:
            return "easy", "latency-critical, not rated"
        if sampler.remaining < 2:
            return "easy", "budget too small to rate difficulty; treated as easy"
        drawn = await sampler.sample(classify_request(task, sampler.capabilities), 1)
        rating = _rating(drawn[0].text) if drawn else None
        if rating is None:
            return "hard", "difficulty unclear, treated as hard"
        return rating, f"rated {rating}"
