"""The anthropic provider: the real SDK client over HTTP against the stub server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from stub_server import Reply, StubServer, full_capabilities, stub_fixture  # noqa: F401

from vaultttc.engine.sampling import Lane, Sampler
from vaultttc.errors import ProviderError
from vaultttc.providers.base import Completion, Request
from vaultttc.providers.registry import build_provider

MODEL = "claude-sonnet-5-5"
LONG = "Background. " * 600  # ~7,000 characters: long enough to cache


def provider(server: StubServer, **section: Any) -> Any:
    config = {"providers": {"anthropic": {"max_retries": 2, "timeout_s": 5, **section}}}
    return build_provider(
        "anthropic",
        model=MODEL,
        base_url=server.url,
        config=config,
        env={"ANTHROPIC_API_KEY": "sk-ant-test-key"},
    )


def complete(server: StubServer, request: Request, **section: Any) -> Completion:
    async def go() -> Completion:
        p = provider(server, **section)
        try:
            return await p.complete(request)  # type: ignore[no-any-return]
        finally:
            await p.aclose()

    return asyncio.run(go())


def last_message(server: StubServer) -> dict[str, Any]:
    return server.bodies("messages")[-1]


def test_budget_becomes_enabled_thinking_and_thinking_stays_out_of_the_answer(
    stub: StubServer,
) -> None:
    done = complete(stub, Request(prompt="What is 6*7?", max_tokens=500, thinking_budget=2000))
    body = last_message(stub)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 2500  # answer tokens + thinking budget
    assert body["stream"] is True
    assert done.text.startswith("stub answer") and "thinking" not in done.text
    assert done.thinking.startswith("stub thinking")
    assert done.usage.thinking_tokens == 5 and done.usage.output_tokens == 12
    assert done.provider == "anthropic" and done.finish_reason == "stop"


def test_small_budget_is_raised_to_the_api_minimum(stub: StubServer) -> None:
    complete(stub, Request(prompt="q", max_tokens=100, thinking_budget=200))
    assert last_message(stub)["thinking"]["budget_tokens"] == 1024
    assert last_message(stub)["max_tokens"] > 1024


def test_adaptive_thinking_with_effort_where_budgets_are_not_supported(stub: StubServer) -> None:
    caps = full_capabilities()
    caps["thinking"]["types"]["enabled"] = {"supported": False}
    stub.model_caps[MODEL] = caps
    complete(stub, Request(prompt="q", max_tokens=1000, thinking_budget=10_000))
    body = last_message(stub)
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "high"}


def test_unsupported_effort_is_a_clear_error_before_any_message_is_sent(stub: StubServer) -> None:
    caps = full_capabilities()
    caps["effort"]["max"] = {"supported": False}
    stub.model_caps[MODEL] = caps
    with pytest.raises(ProviderError, match=r"effort 'max' is not supported.*high"):
        complete(stub, Request(prompt="q", effort="max"))
    assert stub.count("messages") == 0


def test_effort_is_sent_in_output_config(stub: StubServer) -> None:
    complete(stub, Request(prompt="q", effort="low"))
    assert last_message(stub)["output_config"] == {"effort": "low"}


def test_budget_zero_turns_thinking_off(stub: StubServer) -> None:
    complete(stub, Request(prompt="q", thinking_budget=0))
    assert last_message(stub)["thinking"] == {"type": "disabled"}


def test_never_sends_temperature_and_authenticates_with_bearer(stub: StubServer) -> None:
    complete(stub, Request(prompt="q", temperature=0.2, seed=3, stop=("END",)))
    body = last_message(stub)
    assert not {"temperature", "top_p", "top_k"} & set(body)
    assert body["stop_sequences"] == ["END"]
    sent = [r for r in stub.requests if r.route == "messages"][-1].headers
    assert sent["authorization"] == "Bearer sk-ant-test-key"
    assert sent["anthropic-version"] == "2026-10-21"


def test_capabilities_are_fetched_once_and_reported(stub: StubServer) -> None:
    caps = full_capabilities()
    caps["effort"]["max"] = {"supported": False}
    stub.model_caps[MODEL] = caps

    async def go() -> Any:
        p = provider(stub)
        for i in range(3):
            await p.complete(Request(prompt="q", sample_index=i))
        await p.aclose()
        return p.capabilities

    capabilities = asyncio.run(go())
    assert stub.count("models") == 1
    assert capabilities.thinking and "max" not in capabilities.efforts
    assert "high" in capabilities.efforts


def test_max_tokens_is_clamped_to_the_model_limit(stub: StubServer) -> None:
    stub.model_max_tokens = 4000
    complete(stub, Request(prompt="q", max_tokens=1000, thinking_budget=8000))
    body = last_message(stub)
    assert body["max_tokens"] == 4000
    assert 1024 <= body["thinking"]["budget_tokens"] < 4000


def test_short_prompts_carry_no_cache_control(stub: StubServer) -> None:
    complete(stub, Request(prompt="short question"))
    assert "cache_control" not in str(last_message(stub))


def test_shared_prefix_is_cached_once_then_read_by_concurrent_samples(stub: StubServer) -> None:
    stub.latency = 0.2  # the cache is written only once the first request is answered

    async def go() -> list[Completion]:
        p = provider(stub)
        try:
            return await Sampler(Lane(p), max_samples=4).sample(Request(prompt=LONG), 4)
        finally:
            await p.aclose()

    got = asyncio.run(go())
    blocks = [body["messages"][-1]["content"][0] for body in stub.bodies("messages")]
    assert all(b["cache_control"] == {"type": "ephemeral"} for b in blocks)
    assert sum(1 for c in got if c.usage.cache_write_tokens > 0) == 1
    assert sum(1 for c in got if c.usage.cache_read_tokens > 0) == 3


def test_prefix_travels_after_the_cached_block(stub: StubServer) -> None:
    complete(stub, Request(prompt=LONG, prefix="Step 1: factor 360"))
    content = last_message(stub)["messages"][-1]["content"]
    assert "cache_control" in content[0] and "cache_control" not in content[1]
    assert content[1]["text"].endswith("Step 1: factor 360")


def test_rate_limit_then_success_is_retried_by_the_sdk(stub: StubServer) -> None:
    stub.enqueue("messages", Reply(status=429, headers={"retry-after-ms": "1"}))
    done = complete(stub, Request(prompt="q"))
    assert done.text.startswith("stub answer")
    assert stub.count("messages") == 2


def test_server_errors_exhaust_retries_then_raise_one_line(stub: StubServer) -> None:
    stub.enqueue("messages", *[Reply(status=500, headers={"retry-after-ms": "1"})] * 3)
    with pytest.raises(ProviderError, match="HTTP 500") as caught:
        complete(stub, Request(prompt="q"))
    assert "\n" not in str(caught.value)
    assert stub.count("messages") == 3  # first try + max_retries=2


def test_timeout_is_retried_then_reported(stub: StubServer) -> None:
    stub.enqueue("messages", *[Reply(delay=2.0)] * 2)
    with pytest.raises(ProviderError, match="timed out"):
        complete(stub, Request(prompt="q"), timeout_s=0.3, max_retries=1)
    assert stub.count("messages") == 2


def test_garbage_json_is_retried_and_then_reported(stub: StubServer) -> None:
    stub.enqueue("messages", Reply(raw=b"event: message_start\ndata: {oops\n\n"))
    assert complete(stub, Request(prompt="q")).text.startswith("stub answer")
    stub.enqueue("messages", *[Reply(raw=b"not json at all")] * 3)
    with pytest.raises(ProviderError, match="malformed response after 3 attempts"):
        complete(stub, Request(prompt="q"))


def test_bad_key_names_the_variable(stub: StubServer) -> None:
    stub.enqueue("models", Reply(status=401))
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
        complete(stub, Request(prompt="q"))


def test_max_tokens_stop_is_reported_as_length(stub: StubServer) -> None:
    message = {
        "id": "m",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "cut"}],
        "stop_reason": "max_tokens",
        "stop_sequence": None,
        "usage": {"input_tokens": 4, "output_tokens": 9},
    }
    stub.enqueue("messages", Reply(body=message))
    done = complete(stub, Request(prompt="q"))
    assert (done.text, done.finish_reason, done.usage.output_tokens) == ("cut", "length", 9)


def test_cost_comes_from_the_price_table_and_config_overrides(stub: StubServer) -> None:
    config = {
        "providers": {"anthropic": {"max_retries": 0}},
        "prices": {MODEL: {"input": 1000.0, "output": 2000.0}},
    }

    async def go() -> Completion:
        p = build_provider(
            "anthropic",
            model=MODEL,
            base_url=stub.url,
            config=config,
            env={"ANTHROPIC_API_KEY": "k"},
        )
        try:
            return await p.complete(Request(prompt="q"))
        finally:
            await p.aclose()

    done = asyncio.run(go())
    expected = (done.usage.input_tokens * 1000 + done.usage.output_tokens * 2000) / 1e6
    assert done.cost_usd == pytest.approx(expected) and done.cost_usd > 0
