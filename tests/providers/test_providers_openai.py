"""The openai provider (Responses API): the real SDK client over HTTP against the stub server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from stub_server import Reply, StubServer, stub_fixture  # noqa: F401

from vaultttc.errors import ProviderError
from vaultttc.providers.base import Completion, Message, Request
from vaultttc.providers.registry import build_provider


def complete(
    server: StubServer, request: Request, model: str = "gpt-6-sol", **section: Any
) -> Completion:
    config = {"providers": {"openai": {"max_retries": 2, "timeout_s": 5, **section}}}

    async def go() -> Completion:
        p = build_provider(
            "openai",
            model=model,
            base_url=server.openai_url,
            config=config,
            env={"OPENAI_API_KEY": "sk-openai-test"},
        )
        try:
            return await p.complete(request)  # type: ignore[no-any-return]
        finally:
            await p.aclose()

    return asyncio.run(go())


def body(server: StubServer) -> dict[str, Any]:
    return server.bodies("responses")[-1]


def test_effort_is_sent_as_reasoning_effort_and_reasoning_tokens_are_counted(
    stub: StubServer,
) -> None:
    done = complete(
        stub, Request(prompt="What is 6*7?", system="Be brief.", effort="high", max_tokens=300)
    )
    sent = body(stub)
    assert sent["reasoning"] == {"effort": "high"}
    assert sent["instructions"] == "Be brief."
    assert sent["input"][-1] == {"role": "user", "content": "What is 6*7?"}
    assert sent["max_output_tokens"] == 300
    assert "temperature" not in sent
    assert done.text.startswith("stub response")
    assert done.thinking.startswith("stub reasoning") and "reasoning" not in done.text
    # stub usage: 20 input of which 4 cached; 15 output of which 9 reasoning
    assert (done.usage.input_tokens, done.usage.cache_read_tokens) == (16, 4)
    assert (done.usage.output_tokens, done.usage.thinking_tokens) == (6, 9)
    recorded = [r for r in stub.requests if r.route == "responses"][-1]
    assert recorded.headers["authorization"] == "Bearer sk-openai-test"


def test_a_budget_without_effort_maps_to_an_effort_and_widens_the_output_cap(
    stub: StubServer,
) -> None:
    complete(stub, Request(prompt="q", max_tokens=500, thinking_budget=20_000))
    assert body(stub)["reasoning"] == {"effort": "xhigh"}
    assert body(stub)["max_output_tokens"] == 20_500


def test_an_effort_the_model_does_not_take_is_a_clear_error_without_a_request(
    stub: StubServer,
) -> None:
    with pytest.raises(ProviderError, match=r"effort 'none' is not supported.*low"):
        complete(stub, Request(prompt="q", effort="none"), model="gpt-6.1-sol")
    with pytest.raises(ProviderError, match="not supported"):
        complete(stub, Request(prompt="q", effort="extreme"), model="some-new-model")
    assert stub.count("responses") == 0


def test_a_server_rejecting_an_effort_gives_a_clear_error(stub: StubServer) -> None:
    error = {
        "error": {
            "message": "Unsupported value: 'reasoning.effort' does not support "
            "'max' with this model.",
            "type": "invalid_request_error",
        }
    }
    stub.enqueue("responses", Reply(status=400, body=error))
    with pytest.raises(ProviderError, match=r"reasoning effort not supported.*HTTP 400"):
        complete(stub, Request(prompt="q", effort="max"), model="unknown-model")


def test_conversation_and_prefix_are_sent_as_turns(stub: StubServer) -> None:
    request = Request(
        prompt="And then?",
        prefix="Step 2:",
        messages=(Message("user", "Start"), Message("assistant", "Step 1")),
    )
    complete(stub, request)
    turns = body(stub)["input"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[-1]["content"].startswith("And then?") and turns[-1]["content"].endswith("Step 2:")


def test_stop_sequences_cut_the_text(stub: StubServer) -> None:
    done = complete(stub, Request(prompt="q", stop=("response",)))
    assert done.text == "stub " and done.finish_reason == "stop"


def test_rate_limit_then_success(stub: StubServer) -> None:
    stub.enqueue("responses", Reply(status=429, headers={"retry-after-ms": "1"}))
    assert complete(stub, Request(prompt="q")).text.startswith("stub response")
    assert stub.count("responses") == 2


def test_persistent_5xx_and_garbage_become_provider_errors(stub: StubServer) -> None:
    stub.enqueue("responses", *[Reply(status=503, headers={"retry-after-ms": "1"})] * 3)
    with pytest.raises(ProviderError, match="HTTP 503"):
        complete(stub, Request(prompt="q"))
    stub.enqueue("responses", *[Reply(raw=b"<html>bad gateway</html>")] * 3)
    with pytest.raises(ProviderError, match="malformed"):
        complete(stub, Request(prompt="q"))


def test_timeout_becomes_a_provider_error(stub: StubServer) -> None:
    stub.enqueue("responses", *[Reply(delay=2.0)] * 2)
    with pytest.raises(ProviderError, match="timed out"):
        complete(stub, Request(prompt="q"), timeout_s=0.3, max_retries=1)


def test_truncation_is_reported_as_length(stub: StubServer) -> None:
    response = {
        "id": "r",
        "object": "response",
        "created_at": 0,
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "model": "gpt-6-sol",
        "output": [
            {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "status": "incomplete",
                "content": [{"type": "output_text", "text": "partial", "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": 3,
            "output_tokens": 50,
            "total_tokens": 53,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 40},
        },
    }
    stub.enqueue("responses", Reply(body=response))
    done = complete(stub, Request(prompt="q"))
    assert (done.text, done.finish_reason, done.usage.thinking_tokens) == ("partial", "length", 40)
