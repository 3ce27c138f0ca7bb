"""Provider-layer benchmark: concurrency, cache re-runs, and the local model's speed.

Against the stub server (tests/stub_server.py, in its own process so that it does not compete
for this one's GIL) with 200 ms injected latency per request:
  * 16 samples of one prompt vs 1 sample (target: at most 1.3x the wall time),
  * a cached re-run of those 16 vs the first run (target: under 5%, zero HTTP requests),
for anthropic and openai (real SDKs over HTTP) and openai-compatible (with and without `n`).
Then the local Gemma model's generation speed in tokens/s on this machine, and what KV-cache
prefix reuse saves on a repeated prompt. Every ratio compares runs made in this process;
timings are medians of 5 runs.

    python bench/providers.py [--strict] [--skip-local]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vaultttc.engine.sampling import Lane, Sampler
from vaultttc.providers.base import Completion, Provider, Request
from vaultttc.providers.registry import build_provider
from vaultttc.vault.cache import SqliteCache

STUB = Path(__file__).resolve().parents[1] / "tests" / "stub_server.py"
LATENCY = 0.2
N = 16
REPEATS = 5
LONG = "Background paragraph. " * 400  # long enough for Anthropic prompt caching


class Stub:
    """The stub server running in a child process."""

    def __init__(self, url: str) -> None:
        self.url, self.openai_url = url, url + "/v1"

    def count(self) -> int:
        with urllib.request.urlopen(self.url + "/_stub/count") as reply:
            return int(json.load(reply)["count"])


@contextmanager
def stub_process(latency: float) -> Iterator[Stub]:
    child = subprocess.Popen(
        [sys.executable, str(STUB), str(latency)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield Stub(child.stdout.readline().strip())
    finally:
        child.terminate()
        child.wait(timeout=10)


async def timed_sample(
    provider: Provider, request: Request, n: int, *, cache: SqliteCache | None = None
) -> tuple[float, list[Completion]]:
    sampler = Sampler(Lane(provider, cache), max_samples=n)
    started = time.perf_counter()
    got = await sampler.sample(request, n)
    assert len(got) == n and (cache is None or sampler.calls in (0, n))
    return time.perf_counter() - started, got


async def median_time(provider: Provider, prompt: str, n: int) -> float:
    times = [
        (await timed_sample(provider, Request(prompt=f"{prompt} #{i}"), n))[0]
        for i in range(REPEATS)
    ]
    return statistics.median(times)


async def concurrency_ratio(provider: Provider, tag: str) -> tuple[float, float, float]:
    await timed_sample(provider, Request(prompt=f"warm-up {tag}"), 1)  # connect, capabilities
    one = await median_time(provider, f"one sample {tag}", 1)
    many = await median_time(provider, f"{N} samples {tag}", N)
    return one, many, many / one


async def cache_ratio(provider: Provider, stub: Stub, tag: str) -> tuple[float, int]:
    with (
        tempfile.TemporaryDirectory() as folder,
        SqliteCache(Path(folder) / "cache.sqlite") as cache,
    ):
        request = Request(prompt=f"cached run {tag}")
        first, _ = await timed_sample(provider, request, N, cache=cache)
        before = stub.count()
        again, got = await timed_sample(provider, request, N, cache=cache)
        assert all(c.cached for c in got)
        return again / first, stub.count() - before


def verdict(ok: bool) -> str:
    return "target met" if ok else "MISSED"


async def bench_remote(stub: Stub, name: str, make: Callable[[], Any]) -> bool:
    provider = make()
    try:
        one, many, ratio = await concurrency_ratio(provider, name)
        cached, requests = await cache_ratio(provider, stub, name)
    finally:
        await provider.aclose()
    ok_ratio, ok_cache = ratio <= 1.3, cached < 0.05 and requests == 0
    print(
        f"{name:34s} 1 sample {one * 1000:6.0f} ms | {N} samples {many * 1000:6.0f} ms | "
        f"ratio {ratio:4.2f}x ({verdict(ok_ratio)} <= 1.3x)"
    )
    print(
        f"{'':34s} cached re-run {cached * 100:5.2f}% of the first run, {requests} HTTP "
        f"requests ({verdict(ok_cache)} < 5%, 0)"
    )
    return ok_ratio and ok_cache


async def bench_prewarm(stub: Stub) -> None:
    """Informational: a cacheable prompt pays one pre-warm round trip before fanning out."""
    provider: Any = build_provider("anthropic", base_url=stub.url, env={"ANTHROPIC_API_KEY": "k"})
    try:
        await timed_sample(provider, Request(prompt="warm-up"), 1)
        one, _ = await timed_sample(provider, Request(prompt=LONG + " one"), 1)
        many, got = await timed_sample(provider, Request(prompt=LONG + " many"), N)
    finally:
        await provider.aclose()
    writes = sum(1 for c in got if c.usage.cache_write_tokens)
    reads = sum(1 for c in got if c.usage.cache_read_tokens)
    print(
        f"{'anthropic, cacheable prompt':34s} {N} samples {many / one:4.2f}x one sample "
        f"(informational: {writes} pre-warm cache write, then {reads} cache reads)"
    )


async def run_remote(stub: Stub) -> bool:
    compat = {"providers": {"openai-compatible": {"model": "m"}}}
    vllm = {"providers": {"openai-compatible": {"model": "m", "server": "vllm"}}}
    makers: dict[str, Callable[[], Any]] = {
        "anthropic (Messages, streamed)": lambda: build_provider(
            "anthropic", base_url=stub.url, env={"ANTHROPIC_API_KEY": "k"}
        ),
        "openai (Responses)": lambda: build_provider(
            "openai", base_url=stub.openai_url, env={"OPENAI_API_KEY": "k"}
        ),
        "openai-compatible, N requests": lambda: build_provider(
            "openai-compatible", base_url=stub.openai_url, config=compat, env={}
        ),
        "openai-compatible, n=16 (vLLM)": lambda: build_provider(
            "openai-compatible", base_url=stub.openai_url, config=vllm, env={}
        ),
    }
    print(f"stub server latency {LATENCY * 1000:.0f} ms per request, medians of {REPEATS}\n")
    results = [await bench_remote(stub, name, make) for name, make in makers.items()]
    await bench_prewarm(stub)
    return all(results)


async def run_local() -> None:
    provider: Any = build_provider("local", env={})
    try:
        started = time.perf_counter()
        await provider.complete(Request(prompt="Hello", max_tokens=1))
        print(f"\nlocal: model load {time.perf_counter() - started:.2f} s")
        prompt = "Write a short story about a lighthouse keeper.\n\n"
        tokens, seconds = 0, 0.0
        for i in range(4):
            done = await provider.complete(
                Request(prompt=prompt, max_tokens=128, sample_index=i, temperature=0.8)
            )
            tokens, seconds = tokens + done.usage.output_tokens, seconds + done.latency_s
        print(
            f"local: {tokens} tokens in {seconds:.2f} s = {tokens / seconds:.1f} tokens/s "
            "(4 samples x 128 tokens, n_threads=2, OMP_WAIT_POLICY=passive)"
        )
        long_prompt = "The quick brown fox jumps over the lazy dog. " * 60
        first = await provider.complete(Request(prompt=long_prompt + "A", max_tokens=1))
        again = await provider.complete(Request(prompt=long_prompt + "B", max_tokens=1))
        print(
            f"local: {first.usage.input_tokens}-token prompt {first.latency_s * 1000:.0f} ms "
            f"cold, {again.latency_s * 1000:.0f} ms with the shared prefix in the KV cache "
            f"({again.latency_s / first.latency_s:.2f}x)"
        )
    finally:
        await provider.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--skip-local", action="store_true", help="skip the local model")
    args = parser.parse_args()
    with stub_process(LATENCY) as stub:
        ok = asyncio.run(run_remote(stub))
    if not args.skip_local:
        asyncio.run(run_local())
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
