"""`BatchedProvider`: a strategy run in batch mode records every request it would send (all N
samples up front, past the lane's concurrency), answers from collected results at the batch
price, and never records a request already waiting in a batch."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import QUESTION, Scripted, run

from vaultttc.engine.sampling import Lane, Sampler
from vaultttc.engine.tasks import Settings
from vaultttc.errors import PendingInBatch, ProviderError, VaultTTCError
from vaultttc.providers.base import Capabilities, Completion, Pricing, Request
from vaultttc.providers.batch_api import Failed, Succeeded
from vaultttc.providers.batched import CURRENT_NOTE, Book, batched
from vaultttc.strategies import get_strategy
from vaultttc.vault.cache import cache_key

PRICE = Pricing(input=2.0, output=10.0)


class FakeAPI:
    """Batch endpoints that are never called over a network: only `completion` is used."""

    limits = (10, 10**6)

    def completion(self, payload: Any, request: Request) -> Completion:
        return Completion(text=str(payload), model="script-1", provider="scripted",
                          cost_usd=0.5, sample_index=request.sample_index)  # fmt: skip


def draw(book: Book, n: int, *, concurrency: int = 4) -> tuple[Any, Sampler, BaseException | None]:
    inner = Scripted(["unused"], caps=Capabilities(max_concurrency=concurrency), price=PRICE)
    provider = batched(inner, FakeAPI(), book=book, key=cache_key)  # type: ignore[arg-type]
    sampler = Sampler(Lane(provider), max_samples=n)
    settings = Settings(strategy="self-consistency", samples=n)
    error: BaseException | None = None

    async def go() -> None:
        CURRENT_NOTE.set("notes/a.md")
        await get_strategy("self-consistency").run(
            QUESTION, settings, sampler=sampler, verifier=None
        )

    try:
        run(go())
    except VaultTTCError as exc:  # as the runner would: the question's error
        error = exc
    return provider, sampler, error


def test_every_sample_drawn_up_front_is_recorded_even_past_the_lanes_concurrency() -> None:
    provider, _, error = draw(Book(), 32, concurrency=4)
    assert isinstance(error, PendingInBatch)
    assert sorted(r.request.sample_index for r in provider.recorded.values()) == list(range(32))
    assert {r.note for r in provider.recorded.values()} == {"notes/a.md"}
    assert provider.inner.requests == []  # nothing was sent


def test_collected_results_answer_at_their_batch_price() -> None:
    provider, _, _ = draw(Book(), 3)
    book = Book(results={k: ("b1", Succeeded("The answer is: 42")) for k in provider.recorded})
    again, sampler, error = draw(book, 3)
    assert error is None and sampler.drawn == 3 and sampler.calls == 3
    assert sampler.cost_usd == pytest.approx(1.5) and again.recorded == {}


def test_an_item_the_batch_did_not_answer_is_an_error_that_names_the_fallback() -> None:
    provider, _, _ = draw(Book(), 2)
    first, second = provider.recorded
    book = Book(results={first: ("b1", Failed("expired")), second: ("b1", Succeeded("4"))})
    _, _, error = draw(book, 2)
    assert isinstance(error, ProviderError)
    assert "batch b1: the request expired" in str(error) and "--batch-fallback" in str(error)


def test_a_request_waiting_in_a_batch_is_not_recorded_again() -> None:
    provider, _, _ = draw(Book(), 2)
    waiting = Book(pending=dict.fromkeys(provider.recorded, "b1"))
    again, _, error = draw(waiting, 2)
    assert isinstance(error, PendingInBatch) and "b1" in str(error)
    assert again.recorded == {}


def test_collect_only_records_nothing_and_says_what_to_do() -> None:
    provider, _, error = draw(Book(submit=False), 2)
    assert isinstance(error, ProviderError) and "run PATH --batch" in str(error)
    assert provider.recorded == {}


def test_the_batch_price_is_what_budgets_reserve_unless_a_request_may_fall_back() -> None:
    inner = Scripted(["x"], price=PRICE)
    half = batched(inner, FakeAPI(), book=Book(), key=cache_key)  # type: ignore[arg-type]
    full = batched(inner, FakeAPI(), book=Book(fallback=True), key=cache_key)  # type: ignore[arg-type]
    assert half.pricing.input == 1.0 and full.pricing.input == 2.0
    assert not hasattr(half, "prepare")
