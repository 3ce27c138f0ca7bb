"""Drawing samples: concurrency, budgets, cache and accounting around one provider.

Strategies never call a provider directly; they ask a `Sampler`, which enforces the question's
sample cap and the note's cost cap *before* each request, answers repeats from the cache, bounds
concurrency per provider (a `Lane` is shared by every question using that provider), and adds up
tokens and cost. Cancellation (early stopping) is plain asyncio task cancellation.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from vaultttc.errors import BudgetExhausted, PendingInBatch, ProviderError
from vaultttc.providers.base import Capabilities, Completion, Provider, Request, Usage

__all__ = ["CUT_OFF", "Cache", "CostMeter", "Lane", "Sampler"]

# Finish reasons of a reply that did not end itself: it reached its token limit ("length"), or
# its stream stopped without a reason ("truncated").
CUT_OFF = frozenset({"length", "truncated"})


class Cache(Protocol):
    """Completions keyed by provider identity and request; see `vaultttc.vault.cache`."""

    def get(self, provider: Provider, request: Request) -> Completion | None: ...

    def put(self, provider: Provider, request: Request, completion: Completion) -> None: ...


@dataclass
class Lane:
    """One provider shared by a whole run: its cache and its concurrency limit."""

    provider: Provider
    cache: Cache | None = None
    limit: int | None = None
    fresh: bool = False  # `--force`: never answer from the cache; new completions replace it
    redact: Callable[[str], str] | None = None  # keys a reply echoes never reach cache or note
    _semaphore: asyncio.Semaphore | None = field(default=None, init=False, repr=False)

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(
                self.limit or self.provider.capabilities.max_concurrency
            )
        return self._semaphore


@dataclass
class CostMeter:
    """Spend against a cap: one note run's (`ttc.max_cost_usd`), inside the whole run's
    (`--max-cost`, `max_cost_usd_per_run`, the daemon's daily budget) as `parent`.

    A request is reserved at its worst case before it is sent, so the spend never passes a
    cap. `refused` says which cap refused the last request it could not cover."""

    cap_usd: float | None = None
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    parent: CostMeter | None = None
    refused: str | None = None  # "note" or "run"

    def reserve(self, amount: float) -> bool:
        if self.cap_usd is not None and self.spent_usd + self.reserved_usd + amount > self.cap_usd:
            self.refused = "note"
            return False
        if self.parent is not None and not self.parent.reserve(amount):
            self.refused = "run"
            return False
        self.reserved_usd += amount
        return True

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved_usd -= reserved
        self.spent_usd += actual
        if self.parent is not None:
            self.parent.settle(reserved, actual)


@dataclass
class Sampler:
    """Budgeted access to one lane for one question.

    `max_samples` caps completions drawn (cached ones count: they are samples the strategy
    used). When a cap stops sampling, `exhausted` says why and the call returns what it has.
    """

    lane: Lane
    max_samples: int
    meter: CostMeter = field(default_factory=CostMeter)
    drawn: int = 0
    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    exhausted: str | None = None
    deferred: bool = False  # the run's budget, not the question's, stopped it: ask it later
    fresh: bool = False  # re-verification: this question's samples are drawn anew
    _pending: set[asyncio.Task[Completion | None]] = field(default_factory=set, repr=False)

    @property
    def capabilities(self) -> Capabilities:
        return self.lane.provider.capabilities

    @property
    def remaining(self) -> int:
        # a finished task has already counted itself in `drawn` (or drew nothing)
        in_flight = sum(1 for task in self._pending if not task.done())
        return max(0, self.max_samples - self.drawn - in_flight)

    @property
    def all_cached(self) -> bool:
        return self.drawn > 0 and self.calls == 0

    async def one(self, request: Request) -> Completion:
        """Draw exactly one sample or raise `BudgetExhausted`."""
        got = await self.sample(request, 1, start=request.sample_index)
        if not got:
            raise BudgetExhausted(self.exhausted or "sample budget exhausted")
        problem = unusable(got[0])
        if problem is not None:  # the only sample: nothing to answer with
            raise ProviderError(problem)
        return got[0]

    async def sample(self, request: Request, n: int, *, start: int = 0) -> list[Completion]:
        """Up to `n` samples with indices `start..start+n-1`, drawn concurrently, in index order."""
        results = [c async for c in self.stream(request, n, start=start)]
        return sorted(results, key=lambda c: c.sample_index)

    async def stream(
        self, request: Request, n: int, *, start: int = 0
    ) -> AsyncGenerator[Completion, None]:
        """Yield samples as they finish. Closing the iterator early cancels those in flight."""
        take = min(n, self.remaining)
        if take < n:
            self.exhausted = f"sample budget of {self.max_samples} reached"
        tasks = [
            asyncio.create_task(self._draw(dataclasses.replace(request, sample_index=start + i)))
            for i in range(take)
        ]
        self._pending.update(tasks)
        try:
            for next_done in asyncio.as_completed(tasks):
                completion = await next_done
                if completion is not None:
                    yield completion
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._pending.difference_update(tasks)

    async def _draw(self, request: Request) -> Completion | None:
        provider, cache = self.lane.provider, self.lane.cache
        fresh = self.lane.fresh or self.fresh
        cached = cache.get(provider, request) if cache is not None and not fresh else None
        if cached is not None:
            hit = dataclasses.replace(cached, cached=True, sample_index=request.sample_index)
            self._account(hit, cost=0.0)
            return hit
        worst = provider.pricing.worst_case(request)
        if not self.meter.reserve(worst):
            if self.meter.refused == "run":
                self.deferred = True
                self.exhausted = "the run's budget cannot cover the next request"
            else:
                self.exhausted = f"cost cap of ${self.meter.cap_usd:.2f} reached"
            return None
        actual = 0.0
        try:
            async with self.lane.semaphore:
                completion = await provider.complete(request)
            actual = completion.cost_usd
        except PendingInBatch:  # queued in a batch: it will be paid, so its worst case stays spent
            actual = worst
            raise
        finally:
            self.meter.settle(worst, actual)
        self.calls += 1
        if self.lane.redact is not None:
            redact = self.lane.redact
            completion = dataclasses.replace(
                completion, text=redact(completion.text), thinking=redact(completion.thinking)
            )
        if cache is not None and unusable(completion) is None:
            cache.put(provider, request, completion)
        completion = dataclasses.replace(completion, sample_index=request.sample_index)
        self._account(completion, cost=actual)
        return completion

    def _account(self, completion: Completion, *, cost: float) -> None:
        self.drawn += 1
        self.usage = self.usage + completion.usage
        self.cost_usd += cost


def unusable(completion: Completion) -> str | None:
    """Why a completion is no answer (cut off, or empty), or None. Such a completion is never
    cached; as the only sample it is an error; among many it votes for nothing."""
    where = f"{completion.provider} {completion.model}"
    if completion.finish_reason == "truncated":
        return f"{where}: the reply was cut off before it finished; try again"
    if not completion.text.strip():
        return f"{where}: the reply was empty"
    return None
