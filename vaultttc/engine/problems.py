"""Why a question could not be answered, and what fixes it: errors are not verdicts.

`problem_of(exc)` sorts an error into the kinds a user acts on differently: `config` (a
setting no request could honour: exit 2, found before any request), `budget` (a cost or
sample cap: raise it, or wait), `provider` (unreachable, missing model, empty or broken-off
reply: check `vaultttc providers`, run again), `cut` (replies reached their token limit before
they finished an answer: raise `max_tokens`), `consent` (the question's check must run and
execution was not allowed: allow it, run again), `edited` (the author changed the question
while it was asked: its answer is dropped, the next run asks it), `unsaved` (the note could not
be saved). `fix` says that in one line. None of these is
ever written into a note. `strategy_problem` is the pre-flight check of a strategy against
the provider's capabilities. Pure: no IO.
"""

from __future__ import annotations

from typing import Literal

from vaultttc.engine.tasks import Settings
from vaultttc.errors import (
    BudgetExhausted,
    ConfigError,
    ExecutionNotAllowed,
    PendingInBatch,
    VaultTTCError,
)
from vaultttc.providers.base import Capabilities, Provider

__all__ = [
    "NO_USABLE",
    "NO_VERIFIER",
    "Problem",
    "effort_problem",
    "fix",
    "problem_of",
    "strategy_problem",
]

Problem = Literal[
    "config",
    "budget",
    "deferred",
    "batch",
    "provider",
    "cut",
    "consent",
    "edited",
    "unsaved",
    "internal",
]

_FIX: dict[str, str] = {
    "config": "fix the setting named above, then run again",
    "budget": "raise max_cost_usd (or --max-cost) or --samples, then run again",
    "deferred": "left for the next run with budget (--max-cost, daily_budget_usd)",
    "batch": "in a batch: `vaultttc run PATH --batch` (or `vaultttc batch collect PATH`) "
    "writes it once the batch has ended",
    "provider": "check the provider (`vaultttc providers`) and run again; nothing was written",
    "cut": "raise max_tokens (`ttc: max_tokens: …` in the note, or `max_tokens::` on the "
    "question) and run again; nothing was written",
    "consent": "allow execution (--allow-exec, `ttc: execute: true` or `execute = true` in "
    ".vaultttc/config.toml) and run again; nothing was written",
    "edited": "the next run asks the question as it is now; nothing was written for it",
    "unsaved": "the note was not saved (the error above says why); run again",
    "internal": "run again; report it if it keeps happening; nothing was written",
}


def problem_of(exc: VaultTTCError) -> Problem:
    if isinstance(exc, ConfigError):
        return "config"
    if isinstance(exc, BudgetExhausted):
        return "budget"
    if isinstance(exc, ExecutionNotAllowed):
        return "consent"
    if isinstance(exc, PendingInBatch):
        return "batch"
    return "provider"


def fix(problem: str | None) -> str:
    return _FIX.get(problem or "", _FIX["internal"])


def effort_problem(settings: Settings, caps: Capabilities, provider: str) -> str | None:
    """Why `strategy: effort` cannot run on this provider, or None."""
    if not caps.efforts:
        return (
            f"strategy effort: provider {provider} has no reasoning effort; "
            "use strategy:: thinking or direct"
        )
    if settings.effort is None or settings.effort not in caps.efforts:
        offered = ", ".join(caps.efforts)
        wrong = f", not {settings.effort!r}" if settings.effort else ""
        return f"strategy effort needs effort:: one of {offered} for {provider}{wrong}"
    return None


NO_USABLE = "no usable answer in any sample"  # an outcome's note when nothing could be chosen
NO_VERIFIER = (
    'best-of-n needs a verifier — "No verifier in best-of-N" is the seed\'s anti-pattern '
    "(a random sample is noise): give the question an expect:: answer, a test fence or a "
    "```python check``` fence, or set verify:: judge to accept a grader model's weaker evidence"
)


def strategy_problem(
    strategy: str, settings: Settings, provider: Provider, *, verified: bool = True
) -> str | None:
    """Checks that need no request (`verified`: the question has a verifier). Providers that
    learn their capabilities from the API (they have `prepare`) are checked by the strategy
    itself once they know."""
    if strategy == "best-of-n" and not verified:
        return NO_VERIFIER
    if strategy != "effort" or callable(getattr(provider, "prepare", None)):
        return None
    return effort_problem(settings, provider.capabilities, provider.name)
