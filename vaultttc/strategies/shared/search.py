"""What beam search and MCTS share: steps, rollouts, their values, and the final decision.

A partial solution is text the model continues (`Request.prefix`). Each continuation is a
*rollout*: the partial plus the continuation is a complete candidate, and its first step
(the next paragraph of a reasoning, the next line of code) extends the partial. A rollout's
value is the verifier's score (1 for a pass) when there is a verifier — a judge's grade when
the verifier is a judge — and otherwise its agreement with the other rollouts (the share of
rollouts so far with the same answer: the model's self-consistency as self-evaluation, which
costs no extra calls). The answer is chosen among all rollouts like best-of-n (verified) or
self-consistency (unverified). Draws samples only through the given `Sampler`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verdict, Verifier
from vaultttc.providers.base import Request
from vaultttc.strategies.best_of_n import executed, probed, select, selection_outcome
from vaultttc.strategies.shared.common import Candidate, candidate, tally, verify_unique
from vaultttc.strategies.shared.prompts import answer_request
from vaultttc.strategies.shared.voting import decide

__all__ = ["Rollout", "Search", "split_steps"]

_PARAGRAPH = re.compile(r"(?<=\n\n)(?=\S)")


def split_steps(text: str, *, code: bool) -> list[str]:
    """Cut a continuation into steps: lines for code, paragraphs for prose. Joins back exactly."""
    if not text:
        return []
    parts = text.splitlines(keepends=True) if code else _PARAGRAPH.split(text)
    steps: list[str] = []
    for part in parts:
        if steps and not part.strip():
            steps[-1] += part
        else:
            steps.append(part)
    return steps


@dataclass(frozen=True, slots=True)
class Rollout:
    """One continuation of `partial`: the complete candidate and the partial's next step."""

    partial: str
    step: str
    candidate: Candidate
    last: bool

    @property
    def child(self) -> str:
        return self.partial + self.step


@dataclass
class Search:
    """One search run's state: every rollout drawn, their verdicts, and the next sample index."""

    task: Task
    settings: Settings
    sampler: Sampler
    verifier: Verifier | None
    rollouts: list[Rollout] = field(default_factory=list)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    index: int = 0

    def request(self, partial: str) -> Request:
        return answer_request(
            self.task,
            self.sampler.capabilities,
            steps=True,
            prefix=partial,
            max_tokens=self.settings.max_tokens,
        )

    async def expand(self, partial: str, n: int) -> list[Rollout]:
        """Draw up to `n` continuations of `partial` (fewer when the sampler's budget ends, which
        it then records in `exhausted`)."""
        if n <= 0:
            return []
        drawn = await self.sampler.sample(self.request(partial), n, start=self.index)
        self.index += n
        code = self.task.kind == "code"
        out = []
        for completion in drawn:
            steps = split_steps(completion.text, code=code)
            out.append(
                Rollout(
                    partial,
                    steps[0] if steps else "",
                    candidate(completion, self.task, prefix=partial),
                    len(steps) <= 1,
                )
            )
        self.rollouts += out
        if self.verifier is not None:
            fresh = [r.candidate for r in out
                     if not r.candidate.cut and r.candidate.check not in self.verdicts]  # fmt: skip
            self.verdicts.update(await verify_unique(self.verifier, fresh, self.task))
        return out

    def value(self, rollout: Rollout) -> float:
        """The rollout's reward in [0, 1] (see the module docstring)."""
        verdict = self.verdicts.get(rollout.candidate.check)
        if verdict is not None and verdict.passed is not None:
            return 1.0 if verdict.passed else verdict.score
        key = rollout.candidate.key
        if key is None:
            return 0.0
        return sum(r.candidate.key == key for r in self.rollouts) / len(self.rollouts)

    async def conclude(self, *, strategy: str, notes: Sequence[str] = ()) -> Outcome:
        """Choose among all rollouts: like best-of-n with a verifier, by vote without one."""
        every = [r.candidate for r in self.rollouts]
        candidates = [c for c in every if not c.cut]  # never verified: not in `verdicts`
        if self.verifier is not None and self.verdicts:
            pick = await select(
                candidates,
                self.verdicts,
                self.task,
                executed=executed(self.verifier, self.verdicts),
                timeout_s=self.settings.timeout_s,
                memo=probed(self.verdicts),
            )
            cut = [c for c in every if c.cut]
            return selection_outcome(self.task, self.sampler, pick, strategy=strategy,
                                     notes=notes, cut=cut)  # fmt: skip
        keys = [c.key for c in every]  # a cut one votes for nothing, and no verifier sees it
        return await decide(
            self.task,
            self.sampler,
            candidates=every,
            keys=keys,
            vote=tally(keys),
            verifier=None,
            strategy=strategy,
            notes=notes,
        )
