"""Spend at the vault's edge: quotes for a dry run, the ledger after a real one, the budgets.

`quoted(jobs, pool, ledger)` is what `run --dry-run` reports per question (no provider is
called: lanes are built, never asked); `spends(jobs, answered, day)` are the ledger lines of
what a run actually paid; `run_budget` is the whole run's cap (`--max-cost`, else the vault's
`max_cost_usd_per_run`); `DailyBudget` is the daemon's, renewed each day from the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date

from vaultttc.config import VaultConfig
from vaultttc.engine.quote import ZERO, Quote, quote_job
from vaultttc.engine.report import QuestionReport
from vaultttc.engine.runner import Job, LanePool
from vaultttc.engine.sampling import CostMeter
from vaultttc.notes.compose import Answered
from vaultttc.vault.ledger import Spend, mean_output, spent_since
from vaultttc.vault.stale import Stale

__all__ = ["DailyBudget", "planned_report", "quoted", "run_budget", "spends", "total_quote"]


def quoted(jobs: Sequence[Job], pool: LanePool, ledger: Sequence[Spend]) -> list[Quote]:
    out: list[Quote] = []
    for job in jobs:
        provider = pool.lane(job.settings.provider, job.settings.model).provider
        typical = mean_output(ledger, provider=provider.name, model=provider.model)
        out.append(quote_job(job, provider, typical_output=typical))
    return out


def planned_report(job: Job, quote: Quote) -> QuestionReport:
    """A dry run's line for a question it would ask (and, re-verifying, why)."""
    settings = job.settings
    why = f"re-verify: {job.stale.reason}" if isinstance(job.stale, Stale) else ""
    return QuestionReport(
        id=job.question.id, line=job.question.span.first_line, strategy=settings.strategy,
        provider=settings.provider, model=settings.model or "", samples_used=0, answer=None,
        verified=None, status="planned", confidence=None, input_tokens=quote.input_tokens,
        output_tokens=quote.output_tokens, thinking_tokens=quote.thinking_tokens,
        cost_usd=0.0, cached=False, quote=asdict(quote), note=why,
    )  # fmt: skip


def total_quote(quotes: Sequence[Mapping[str, object]]) -> Quote:
    total = ZERO
    for q in quotes:
        total = total + Quote(**q)  # type: ignore[arg-type]
    return total


def spends(jobs: Sequence[Job], answered: Mapping[str, Answered], day: date) -> list[Spend]:
    """One ledger line per question that drew samples (cached ones cost nothing)."""
    out: list[Spend] = []
    for job in jobs:
        outcome = answered[job.question.id].outcome
        if outcome is None:
            continue
        usage = outcome.usage
        out.append(Spend(
            day=day.isoformat(), provider=outcome.provider, model=outcome.model,
            usd=round(outcome.cost_usd, 8), input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens, thinking_tokens=usage.thinking_tokens,
            samples=outcome.samples_used, cached=outcome.cached,
        ))  # fmt: skip
    return out


def run_budget(config: VaultConfig, max_cost_usd: float | None) -> CostMeter:
    cap = max_cost_usd if max_cost_usd is not None else config.max_cost_usd_per_run
    return CostMeter(cap_usd=cap)


@dataclass
class DailyBudget:
    """The daemon's `daily_budget_usd`: one meter a day, starting from what the ledger says
    was already spent today (by the CLI too)."""

    cap_usd: float
    day: date | None = None
    meter: CostMeter = field(default_factory=CostMeter)

    def today(self, day: date, ledger: Callable[[], Sequence[Spend]]) -> CostMeter:
        """Today's meter; the ledger is read only when the day turns (once a day)."""
        if self.day != day:
            left = max(0.0, self.cap_usd - spent_since(ledger(), day))
            self.day, self.meter = day, replace(CostMeter(), cap_usd=left)
        return self.meter
