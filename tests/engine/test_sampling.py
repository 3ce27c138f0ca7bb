"""The Sampler: concurrency bound, sample and cost caps, cancellation, failures."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from helpers import Scripted
from stub_server import Reply, StubServer, stub_fixture  # noqa: F401

from vaultttc.engine.sampling import CostMeter, Lane, Sampler
from vaultttc.errors import BudgetExhausted, ProviderError
from vaultttc.providers.base import Completion, Request
from vaultttc.providers.registry import build_provider
from vaultttc.providers.replay import ReplayProvider


def compatible(server: StubServer, **config: Any) -> Any:
    section = {"model": "m", "max_retries": 0, **config.pop("section", {})}
    return build_provider(
        "openai-compatible",
        base_url=server.openai_url,
        config={"providers": {"openai-compatible": section}, **config},
        env={},
    )


def replay(tmp_path: Path, n: int = 10) -> ReplayProvider:
    path = tmp_path / "r.jsonl"
    samples = ", ".join(f'"s{i}"' for i in range(n))
    path.write_text(f'{{"question": "Q?", "samples": [{samples}]}}\n')
    return ReplayProvider(path)


def test_requests_in_flight_never_exceed_the_lane_limit(stub: StubServer) -> None:
    stub.latency = 0.1

    async def go() -> list[Completion]:
        provider = compatible(stub)
        try:
            return await Sampler(Lane(provider, limit=3), max_samples=9).sample(
                Request(prompt="q"), 9
            )
        finally:
            await provider.aclose()

    assert len(asyncio.run(go())) == 9
    assert stub.peak_in_flight == 3


def test_the_sample_cap_stops_sampling_and_says_so(tmp_path: Path) -> None:
    sampler = Sampler(Lane(replay(tmp_path)), max_samples=5)

    async def go() -> list[Completion]:
        got = await sampler.sample(Request(prompt="Q?"), 8)
        with pytest.raises(BudgetExhausted, match="sample budget of 5"):
            await sampler.one(Request(prompt="Q?", sample_index=5))
        return got

    assert [c.text for c in asyncio.run(go())] == ["s0", "s1", "s2", "s3", "s4"]
    assert sampler.exhausted == "sample budget of 5 reached" and sampler.drawn == 5


def test_finished_samples_of_an_open_stream_are_not_counted_twice(tmp_path: Path) -> None:
    sampler = Sampler(Lane(replay(tmp_path)), max_samples=4)

    async def go() -> list[str]:
        first = sampler.stream(Request(prompt="Q?"), 2)
        texts = [(await anext(first)).text, (await anext(first)).text]
        second = await sampler.sample(Request(prompt="Q?"), 2, start=2)  # first still open
        await first.aclose()
        return texts + [c.text for c in second]

    assert sorted(asyncio.run(go())) == ["s0", "s1", "s2", "s3"]
    assert sampler.exhausted is None


def test_the_cost_cap_is_checked_before_each_request(stub: StubServer) -> None:
    # worst case of one request: 100 output tokens at $1000/Mtok = $0.10; the cap fits two
    prices = {"prices": {"m": {"input": 0.0, "output": 1000.0}}}

    async def go() -> tuple[list[Completion], Sampler]:
        provider = compatible(stub, **prices)
        sampler = Sampler(Lane(provider), max_samples=5, meter=CostMeter(cap_usd=0.25))
        try:
            return await sampler.sample(Request(prompt="q", max_tokens=100), 5), sampler
        finally:
            await provider.aclose()

    got, sampler = asyncio.run(go())
    assert len(got) == 2 and stub.count("chat") == 2
    assert sampler.exhausted == "cost cap of $0.25 reached"
    assert sampler.meter.spent_usd == pytest.approx(2 * 7 * 1000 / 1e6)
    assert sampler.meter.reserved_usd == pytest.approx(0.0)
    assert sampler.cost_usd == pytest.approx(sampler.meter.spent_usd)


def test_closing_the_stream_cancels_the_samples_still_in_flight() -> None:
    async def go() -> tuple[Scripted, Sampler, str]:
        # sample 0 answers at once, the other five wait until cancelled
        provider = Scripted([str(i) for i in range(6)], hold_from=1)
        sampler = Sampler(Lane(provider), max_samples=6)
        async with contextlib.aclosing(sampler.stream(Request(prompt="q"), 6)) as stream:
            first = await anext(stream)
        return provider, sampler, first.text

    provider, sampler, first = asyncio.run(go())
    assert first == "0"
    assert provider.cancelled == 5
    assert (sampler.drawn, sampler.calls, sampler.remaining) == (1, 1, 5)


def test_a_failing_sample_fails_the_call_and_releases_reservations(stub: StubServer) -> None:
    stub.enqueue("chat", Reply(status=500))

    async def go() -> Sampler:
        provider = compatible(stub)
        sampler = Sampler(Lane(provider), max_samples=3, meter=CostMeter(cap_usd=10.0))
        try:
            with pytest.raises(ProviderError, match="HTTP 500"):
                await sampler.sample(Request(prompt="q"), 3)
        finally:
            await provider.aclose()
        return sampler

    sampler = asyncio.run(go())
    assert sampler.meter.reserved_usd == pytest.approx(0.0)
