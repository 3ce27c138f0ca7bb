"""`beam`: step-level beam search over partial solutions; the seed's search sketch made real.

From the root (an empty partial), each beam is continued `k` times; every continuation is a
complete rollout whose first step extends the beam. Children are ranked by their rollout's
value (verifier score, judge grade, or agreement with the other rollouts; see `search`) and
the best `settings.beam_width` are kept, for up to `settings.depth` levels or until every beam
has finished. The budget (`settings.samples`) is spread evenly over the levels. The answer is
then chosen among all rollouts.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verifier
from vaultttc.strategies.shared.search import Rollout, Search

__all__ = ["Beam"]


@dataclass(frozen=True, slots=True)
class Beam:
    name: str = "beam"

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        search = Search(task, settings, sampler, verifier)
        width, depth = max(1, settings.beam_width), max(1, settings.depth)
        beams = [""]
        level = 0
        for level in range(depth):
            per_level = (settings.samples - sampler.drawn) // (depth - level)
            if per_level < 1 or not beams:
                break
            beams = beams[:per_level]
            k = max(1, per_level // len(beams))
            children: list[Rollout] = []
            for partial in beams:
                children += await search.expand(partial, k)
            ranked = sorted(children, key=lambda r: -search.value(r))
            beams = list(dict.fromkeys(r.child for r in ranked if not r.last))[:width]
        notes = [
            f"beam width {width}, {level + 1} of {depth} levels, {len(search.rollouts)} rollouts"
        ]
        return await search.conclude(strategy=self.name, notes=notes)
