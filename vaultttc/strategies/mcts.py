"""`mcts`: Monte Carlo tree search over partial solutions, within the sample budget.

Each iteration selects a path from the root by UCT (mean value + c·sqrt(ln N / n)) through
nodes that already have `settings.beam_width` children, expands the node reached with one
continuation (its first step is the new child; the whole continuation is the rollout to
completion), scores the rollout (verifier, judge, or agreement; see `search`) and backs the
reward up the path. Finished nodes and nodes at `settings.depth` are never expanded; a node
whose children are all such leaves gets another child instead. Every iteration draws one
sample, until `settings.samples`. The answer is chosen among all rollouts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verifier
from vaultttc.strategies.shared.search import Search

__all__ = ["EXPLORATION", "Mcts"]

EXPLORATION = math.sqrt(2)


@dataclass(eq=False)
class _Node:
    partial: str
    depth: int
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)
    visits: int = 0
    total: float = 0.0
    last: bool = False
    reward: float = 0.0

    def uct(self) -> float:
        parent_visits = self.parent.visits if self.parent is not None else self.visits
        if self.visits == 0:
            return math.inf
        explore = EXPLORATION * math.sqrt(math.log(max(1, parent_visits)) / self.visits)
        return self.total / self.visits + explore

    def backup(self, reward: float) -> None:
        node: _Node | None = self
        while node is not None:
            node.visits += 1
            node.total += reward
            node = node.parent


def _select(root: _Node, *, branching: int, depth: int) -> _Node:
    """Descend by UCT through fully expanded nodes; a node whose children have all finished
    is widened (it gets one more child) rather than left for a finished leaf."""
    node = root
    while len(node.children) >= branching and not node.last and node.depth < depth:
        open_children = [c for c in node.children if not c.last and c.depth < depth]
        if not open_children:
            break
        node = max(open_children, key=lambda c: c.uct())
    return node


@dataclass(frozen=True, slots=True)
class Mcts:
    name: str = "mcts"

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        search = Search(task, settings, sampler, verifier)
        root = _Node("", 0)
        branching, depth = max(1, settings.beam_width), max(1, settings.depth)
        while sampler.drawn < settings.samples:
            node = _select(root, branching=branching, depth=depth)
            rollouts = await search.expand(node.partial, 1)
            if not rollouts:
                break
            rollout = rollouts[0]
            child = _Node(rollout.child, node.depth + 1, node, last=rollout.last)
            child.reward = search.value(rollout)
            node.children.append(child)
            child.backup(child.reward)
        notes = [
            f"{root.visits} iterations, {len(search.rollouts)} rollouts, "
            f"branching {branching}, depth {depth}"
        ]
        return await search.conclude(strategy=self.name, notes=notes)
