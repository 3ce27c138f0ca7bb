"""Strategies: the seed's catalogue of test-time-compute techniques, by name.

Each strategy is a small module composing a `Sampler` (the only way to draw samples) and an
optional `Verifier`, and returns a `tasks.Outcome`. `get_strategy(name)` is the registry the
runner and the CLI use; `STRATEGIES` lists the names in the order the docs present them.
"""

from __future__ import annotations

from collections.abc import Callable

from vaultttc.engine.tasks import Strategy
from vaultttc.errors import ConfigError
from vaultttc.strategies.adaptive import AdaptiveConsistency
from vaultttc.strategies.auto import Auto
from vaultttc.strategies.beam import Beam
from vaultttc.strategies.best_of_n import BestOfN
from vaultttc.strategies.direct import Direct
from vaultttc.strategies.effort import Effort
from vaultttc.strategies.mcts import Mcts
from vaultttc.strategies.self_consistency import SelfConsistency
from vaultttc.strategies.thinking import Thinking

__all__ = ["STRATEGIES", "STRATEGY_NAMES", "get_strategy"]

_FACTORIES: dict[str, Callable[[], Strategy]] = {
    "auto": Auto,
    "direct": Direct,
    "thinking": Thinking,
    "effort": Effort,
    "best-of-n": BestOfN,
    "self-consistency": SelfConsistency,
    "adaptive-consistency": AdaptiveConsistency,
    "beam": Beam,
    "mcts": Mcts,
}
_ALIASES = {name.replace("-", "_"): name for name in _FACTORIES} | {
    "best_of_n": "best-of-n",
    "bon": "best-of-n",
    "sc": "self-consistency",
    "adaptive": "adaptive-consistency",
    "beam-search": "beam",
}

STRATEGIES: tuple[str, ...] = tuple(_FACTORIES)
STRATEGY_NAMES = STRATEGIES


def get_strategy(name: str) -> Strategy:
    """The strategy called `name` (case-insensitive; `_` and `-` alike). ConfigError if none."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _FACTORIES:
        raise ConfigError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    return _FACTORIES[key]()
