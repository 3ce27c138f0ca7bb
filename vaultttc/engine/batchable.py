"""Which questions one provider batch can answer: those whose every request is known up front.

A batch takes all of a question's requests at once and answers them hours later, so only a
question whose requests do not depend on earlier replies fits: the single-round strategies
(direct, thinking, effort; best-of-n and self-consistency draw all N samples up front) with a
verifier that asks no model. Multi-round strategies (adaptive-consistency's waves, beam's
levels, mcts's rollouts, auto's rating) and judge-graded answers are refused in batch mode
rather than run as a chain of day-long batches. Pure: no IO.
"""

from __future__ import annotations

from vaultttc.engine.author import is_short
from vaultttc.engine.runner import Job
from vaultttc.strategies import get_strategy

__all__ = ["MULTI_ROUND", "SINGLE_ROUND", "batch_problem"]

SINGLE_ROUND = ("direct", "thinking", "effort", "best-of-n", "self-consistency")
MULTI_ROUND = {
    "adaptive-consistency": "samples in waves until the vote settles",
    "beam": "each level extends the last",
    "mcts": "each rollout follows the last",
    "auto": "a difficulty rating, then the strategy it picks",
}


def batch_problem(job: Job) -> str | None:
    """Why `job` cannot go in one batch (a request depends on an earlier reply), or None."""
    name = get_strategy(job.settings.strategy).name
    verify = (job.task.fields.get("verify") or job.settings.verify or "").strip().lower()
    if name in MULTI_ROUND:
        why = f"strategy {name} is multi-round ({MULTI_ROUND[name]})"
    elif verify == "judge":
        why = "verify:: judge grades each answer with a second request"
    elif job.question.authored and not is_short(job.question.body):
        why = "checking a long authored answer takes a judge's second request"
    else:
        return None
    return (
        f"{why}, so it cannot go in one batch; use a single-round strategy "
        f"({', '.join(SINGLE_ROUND)}) or run without --batch"
    )
