"""Token log-probabilities: the providers that can return them ask for them and attach a trace
confidence; those that cannot never ask and say so in their capabilities (stub server)."""

from __future__ import annotations

import asyncio

import pytest
from stub_server import STUB_LOGPROBS, Reply, StubServer, stub_fixture  # noqa: F401

from vaultttc.engine.trace import TOP_K, token_confidence
from vaultttc.errors import ProviderError
from vaultttc.providers.base import Completion, Provider, Request
from vaultttc.providers.logprobs import chat_trace_confidence, tokens_confidence
from vaultttc.providers.registry import build_provider

STUB_CONFIDENCE = token_confidence(STUB_LOGPROBS)


def complete(provider: Provider, request: Request) -> Completion:
    async def go() -> Completion:
        try:
            return await provider.complete(request)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def compatible(stub: StubServer) -> Provider:
    config = {"providers": {"openai-compatible": {"model": "qwen3-8b", "max_retries": 1}}}
    return build_provider("openai-compatible", base_url=stub.openai_url, config=config, env={})


def openai(stub: StubServer, model: str) -> Provider:
    return build_provider(
        "openai", model=model, base_url=stub.openai_url,
        config={"providers": {"openai": {"max_retries": 1}}}, env={"OPENAI_API_KEY": "sk-x"},
    )  # fmt: skip


def anthropic(stub: StubServer) -> Provider:
    return build_provider(
        "anthropic", model="claude-sonnet-5-5", base_url=stub.url,
        config={"providers": {"anthropic": {"max_retries": 1}}},
        env={"ANTHROPIC_API_KEY": "sk-ant-x"},
    )  # fmt: skip


def test_openai_compatible_servers_are_asked_for_top_20_and_give_a_trace_confidence(
    stub: StubServer,
) -> None:
    provider = compatible(stub)
    assert provider.capabilities.logprobs == TOP_K
    done = complete(provider, Request(prompt="q"))
    body = stub.bodies("chat")[-1]
    assert body["logprobs"] is True and body["top_logprobs"] == TOP_K
    assert done.trace_confidence == pytest.approx(STUB_CONFIDENCE)


def test_a_server_that_rejects_logprobs_is_asked_again_without_them(stub: StubServer) -> None:
    rejected = {"error": {"message": "logprobs is not supported by this model", "type": "x"}}
    stub.enqueue("chat", Reply(status=400, body=rejected))
    provider = compatible(stub)

    async def go() -> list[Completion]:
        try:
            return [await provider.complete(Request(prompt="q", sample_index=i)) for i in (0, 1)]
        finally:
            await provider.aclose()

    first, second = asyncio.run(go())
    bodies = stub.bodies("chat")
    assert [("logprobs" in b) for b in bodies] == [True, False, False]
    assert first.trace_confidence is None and second.text
    assert provider.capabilities.logprobs == 0


def test_openai_non_reasoning_models_ask_for_logprobs_and_reasoning_models_never(
    stub: StubServer,
) -> None:
    plain = openai(stub, "gpt-4.1-mini")
    assert plain.capabilities.logprobs == TOP_K and plain.capabilities.efforts == ()
    done = complete(plain, Request(prompt="q"))
    body = stub.bodies("responses")[-1]
    assert body["top_logprobs"] == TOP_K and body["include"] == ["message.output_text.logprobs"]
    assert "reasoning" not in body
    assert done.trace_confidence == pytest.approx(STUB_CONFIDENCE)

    reasoning = openai(stub, "gpt-5-mini")
    assert reasoning.capabilities.logprobs == 0
    done = complete(reasoning, Request(prompt="q", effort="low"))
    body = stub.bodies("responses")[-1]
    assert "top_logprobs" not in body and "include" not in body
    assert done.trace_confidence is None


def test_anthropic_says_it_has_no_logprobs_and_never_asks(stub: StubServer) -> None:
    provider = anthropic(stub)
    assert provider.capabilities.logprobs == 0
    done = complete(provider, Request(prompt="q"))
    sent = stub.bodies("messages")[-1]
    assert not any("logprob" in key for key in sent)
    assert done.trace_confidence is None


def test_logprob_entries_without_alternatives_count_with_their_own() -> None:
    assert tokens_confidence([{"logprob": -2.0, "top_logprobs": []}]) == pytest.approx(2.0)
    assert tokens_confidence([]) is None and tokens_confidence(None) is None
    assert chat_trace_confidence({"logprobs": None}) is None


def test_a_model_without_reasoning_refuses_an_explicit_effort(stub: StubServer) -> None:
    with pytest.raises(ProviderError, match="without reasoning takes no effort"):
        complete(openai(stub, "gpt-4o"), Request(prompt="q", effort="high"))
    assert stub.count("responses") == 0
