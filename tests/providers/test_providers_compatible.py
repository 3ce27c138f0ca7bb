"""The openai-compatible provider (Chat Completions) against the stub server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import eventually
from stub_server import Reply, StubServer, stub_fixture  # noqa: F401

from vaultttc.engine.sampling import Lane, Sampler
from vaultttc.errors import ProviderError
from vaultttc.providers.base import Completion, Request
from vaultttc.providers.registry import build_provider


def make(stub_server: StubServer, **section: Any) -> Any:
    config = {
        "providers": {"openai-compatible": {"model": "qwen3-8b", "max_retries": 1, **section}}
    }
    return build_provider(
        "openai-compatible", base_url=stub_server.openai_url, config=config, env={}
    )


def sample(stub_server: StubServer, request: Request, n: int, **section: Any) -> list[Completion]:
    async def go() -> list[Completion]:
        p = make(stub_server, **section)
        try:
            return await Sampler(Lane(p), max_samples=n).sample(request, n)
        finally:
            await p.aclose()

    return asyncio.run(go())


def test_always_sends_temperature_and_a_per_sample_seed(stub: StubServer) -> None:
    sample(stub, Request(prompt="q", system="sys", seed=100, stop=("###",), max_tokens=64), 2)
    bodies = sorted(stub.bodies("chat"), key=lambda b: b["seed"])
    assert [b["seed"] for b in bodies] == [100, 101]
    assert all(b["temperature"] == 0.8 and "n" not in b for b in bodies)
    assert bodies[0]["messages"][0] == {"role": "system", "content": "sys"}
    assert bodies[0]["stop"] == ["###"] and bodies[0]["max_tokens"] == 64
    sample(stub, Request(prompt="q", temperature=0.0), 1)
    assert stub.bodies("chat")[-1]["temperature"] == 0.0


def test_servers_that_honour_n_get_one_request_for_n_samples(stub: StubServer) -> None:
    got = sample(stub, Request(prompt="q"), 4, server="vllm")
    assert stub.count("chat") == 1 and stub.bodies("chat")[0]["n"] == 4
    assert [c.sample_index for c in got] == [0, 1, 2, 3]
    assert len({c.text for c in got}) == 4
    total_output = sum(c.usage.output_tokens for c in got)
    assert total_output == 28  # the stub's 7 tokens per choice, split back over the samples


def test_a_server_returning_fewer_choices_is_asked_one_by_one(stub: StubServer) -> None:
    stub.honour_n = False

    async def go() -> tuple[list[Completion], list[Completion]]:
        p = make(stub, n_per_request=True)
        try:
            first = await Sampler(Lane(p), max_samples=3).sample(Request(prompt="q"), 3)
            again = await Sampler(Lane(p), max_samples=2).sample(Request(prompt="r"), 2)
            return first, again
        finally:
            await p.aclose()

    first, again = asyncio.run(go())
    assert [c.sample_index for c in first] == [0, 1, 2] and len(again) == 2
    bodies = stub.bodies("chat")
    assert bodies[0]["n"] == 3 and all("n" not in b for b in bodies[1:])
    assert len(bodies) == 1 + 2 + 2


def test_unknown_servers_get_one_request_per_sample(stub: StubServer) -> None:
    sample(stub, Request(prompt="q"), 3)
    assert stub.count("chat") == 3


def test_reasoning_content_is_kept_apart(stub: StubServer) -> None:
    reply = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "qwen3-8b",
        "choices": [
            {
                "index": 0,
                "finish_reason": "length",
                "message": {"role": "assistant", "content": "42", "reasoning_content": "6*7 is 42"},
            }
        ],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 9,
            "total_tokens": 14,
            "completion_tokens_details": {"reasoning_tokens": 4},
        },
    }
    stub.enqueue("chat", Reply(body=reply))
    (done,) = sample(stub, Request(prompt="q"), 1)
    assert (done.text, done.thinking, done.finish_reason) == ("42", "6*7 is 42", "length")
    assert (done.usage.output_tokens, done.usage.thinking_tokens) == (5, 4)


def test_errors_and_empty_replies_become_provider_errors(stub: StubServer) -> None:
    stub.enqueue("chat", *[Reply(status=500, headers={"retry-after-ms": "1"})] * 2)
    with pytest.raises(ProviderError, match="openai-compatible qwen3-8b: HTTP 500"):
        sample(stub, Request(prompt="q"), 1)
    empty = {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
    stub.enqueue("chat", *[Reply(body=empty)] * 2)
    with pytest.raises(ProviderError, match="no choices"):
        sample(stub, Request(prompt="q"), 1)


def test_a_rate_limited_request_waits_its_retry_after_then_succeeds(stub: StubServer) -> None:
    stub.enqueue("chat", Reply(status=429, headers={"retry-after": "1"}))
    (done,) = sample(stub, Request(prompt="q"), 1)
    first, second = (r.at for r in stub.requests if r.route == "chat")
    assert done.text.startswith("stub choice")
    assert second - first >= 1.0  # the server said when; a slower machine only waits longer


def test_rate_limits_past_the_retries_are_an_error_saying_so(stub: StubServer) -> None:
    stub.enqueue("chat", *[Reply(status=429, headers={"retry-after-ms": "1"})] * 2)
    with pytest.raises(ProviderError, match="openai-compatible qwen3-8b: HTTP 429"):
        sample(stub, Request(prompt="q"), 1)
    assert stub.count("chat") == 2  # max_retries = 1: one retry, then the error


@pytest.mark.parametrize("limit", [1, 4])
def test_the_servers_concurrency_limit_is_honoured(stub: StubServer, limit: int) -> None:
    answered: list[None] = []  # appended by the stub's handler threads (list.append is atomic)

    def hold(_body: dict[str, Any]) -> Reply:
        """Answer only once `limit` requests (or all that are left) are in flight: one more
        than the limit would be seen by the stub if the client sent it."""
        eventually(lambda: stub.in_flight >= min(limit, 12 - len(answered)), "requests in flight")
        answered.append(None)
        return Reply()

    stub.enqueue("chat", *[hold] * 12)
    got = sample(stub, Request(prompt="q"), 12, max_concurrency=limit)
    assert len(got) == 12 and stub.peak_in_flight == limit


def test_an_unreachable_server_names_its_url() -> None:
    config = {"providers": {"openai-compatible": {"model": "m", "max_retries": 0, "timeout_s": 2}}}

    async def go() -> None:
        p = build_provider(
            "openai-compatible", base_url="http://127.0.0.1:9/v1", config=config, env={}
        )
        try:
            await p.complete(Request(prompt="q"))
        finally:
            await p.aclose()

    with pytest.raises(ProviderError, match=r"cannot reach http://127\.0\.0\.1:9/v1"):
        asyncio.run(go())
