"""The batch APIs: the real `anthropic` and `openai` SDK clients against the stub's batch
endpoints — what a batch item carries, splitting at the size limits, polling, results matched by
custom_id, failed items, and the batch price."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from stub_server import StubServer, stub_fixture  # noqa: F401

from vaultttc.providers.anthropic_batch import AnthropicBatches
from vaultttc.providers.base import Completion, Request
from vaultttc.providers.batch_api import BatchAPI, Failed, Succeeded, json_size, split_items
from vaultttc.providers.openai_batch import OpenAIBatches
from vaultttc.providers.pricing import BATCH_DISCOUNT, batch_pricing, price_for
from vaultttc.providers.registry import build_provider

T = TypeVar("T")
VENDORS = ("anthropic", "openai")
MODELS = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-6-sol"}
ROUTES = {"anthropic": "messages", "openai": "responses"}


def make(stub: StubServer, vendor: str) -> Any:
    url = stub.url if vendor == "anthropic" else stub.openai_url
    key = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}[vendor]
    config = {"providers": {vendor: {"max_retries": 0, "timeout_s": 5}}}
    return build_provider(
        vendor, model=MODELS[vendor], base_url=url, config=config, env={key: "sk-test-key-1"}
    )


def api_of(provider: Any, limits: tuple[int, int] | None = None) -> BatchAPI:
    kind = AnthropicBatches if provider.name == "anthropic" else OpenAIBatches
    return kind(provider) if limits is None else kind(provider, limits=limits)


def with_provider(stub: StubServer, vendor: str, go: Callable[[Any], Awaitable[T]]) -> T:
    async def main() -> T:
        provider = make(stub, vendor)
        try:
            return await go(provider)
        finally:
            await provider.aclose()

    return asyncio.run(main())


def asked(body: dict[str, Any]) -> object:
    """What a request asks, the same in a streamed call and a batch item."""
    return body.get("messages") or body.get("input")


def requests(n: int) -> list[tuple[str, Request]]:
    return [(f"id-{i}", Request(prompt=f"What is {i} + {i}?", max_tokens=64, sample_index=i))
            for i in range(n)]  # fmt: skip


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_batch_item_carries_what_a_synchronous_call_sends(stub: StubServer, vendor: str) -> None:
    request = Request(prompt="What is 6*7?", system="Be brief.", max_tokens=300, effort="high")

    async def go(provider: Any) -> None:
        await provider.complete(request)
        await api_of(provider).submit([("only", request)])

    with_provider(stub, vendor, go)
    sent = dict(stub.bodies(ROUTES[vendor])[-1])
    sent.pop("stream", None)
    created = [r.body for r in stub.requests if r.route == "batches" and r.method == "POST"]
    if vendor == "anthropic":
        assert created[-1] == {"requests": [{"custom_id": "only", "params": sent}]}
        assert "temperature" not in sent
    else:
        assert created[-1] == {
            "input_file_id": "file-1", "endpoint": "/v1/responses", "completion_window": "24h",
        }  # fmt: skip
    assert stub.batches.sizes == [1]


def test_the_openai_batch_file_is_uploaded_for_batch_and_holds_the_responses_body(
    stub: StubServer,
) -> None:
    request = Request(prompt="What is 6*7?", max_tokens=300)

    async def go(provider: Any) -> None:
        await provider.complete(request)
        await api_of(provider).submit([("only", request)])

    with_provider(stub, "openai", go)
    upload = next(r for r in stub.requests if r.path.endswith("/files"))
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert upload.headers["authorization"] == "Bearer sk-test-key-1"
    assert stub.batches.sizes == [1]


@pytest.mark.parametrize("vendor", VENDORS)
def test_long_lists_are_split_at_the_apis_request_limit(stub: StubServer, vendor: str) -> None:
    async def go(provider: Any) -> list[Any]:
        return await api_of(provider, limits=(2, 10**9)).submit(requests(5))

    submitted = with_provider(stub, vendor, go)
    assert stub.batches.sizes == [2, 2, 1]
    assert [s.custom_ids for s in submitted] == [("id-0", "id-1"), ("id-2", "id-3"), ("id-4",)]


def test_splitting_keeps_order_and_respects_count_and_bytes() -> None:
    items = [{"n": i, "pad": "x" * 100} for i in range(10)]
    size = json_size(items[0])
    chunks = list(split_items(items, limits=(4, size * 3 * 100 // 99 + 1)))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [i for chunk in chunks for i in chunk] == items
    assert [len(c) for c in split_items(items, limits=(4, 10**9))] == [4, 4, 2]


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_batch_is_in_progress_until_it_has_ended_then_its_results_match_by_custom_id(
    stub: StubServer, vendor: str
) -> None:
    stub.batches.polls_to_end = 2
    stub.reply_text = lambda route, body: f"The answer is: {len(str(asked(body))) % 97}"

    async def go(provider: Any) -> tuple[list[bool], dict[str, Completion], list[Completion]]:
        api = api_of(provider)
        pairs = requests(3)
        (batch,) = await api.submit(pairs)
        seen = [(await api.poll(batch.id)).ended for _ in range(3)]
        results = await api.results(batch.id)
        got = {}
        for custom_id, request in pairs:
            found = results[custom_id]
            assert isinstance(found, Succeeded)
            got[custom_id] = api.completion(found.payload, request)
        direct = [await provider.complete(r) for _, r in pairs]
        return seen, got, direct

    seen, got, direct = with_provider(stub, vendor, go)
    assert seen == [False, False, True]
    for (custom_id, _), sync in zip(requests(3), direct, strict=True):
        batched = got[custom_id]
        assert batched.text == sync.text and batched.usage == sync.usage
        assert batched.sample_index == sync.sample_index
        assert batched.cost_usd == pytest.approx(sync.cost_usd * BATCH_DISCOUNT)
        assert batched.cost_usd > 0


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("kind", ["errored", "expired", "canceled"])
def test_items_the_batch_did_not_answer_say_why(stub: StubServer, vendor: str, kind: str) -> None:
    stub.batches.fail = lambda params: kind if "1 + 1" in str(params) else None

    async def go(provider: Any) -> dict[str, Any]:
        api = api_of(provider)
        (batch,) = await api.submit(requests(3))
        assert (await api.poll(batch.id)).ended
        return await api.results(batch.id)

    results = with_provider(stub, vendor, go)
    assert isinstance(results["id-0"], Succeeded) and isinstance(results["id-2"], Succeeded)
    failed = results["id-1"]
    assert isinstance(failed, Failed) and failed.kind == kind
    assert kind in failed.describe("b1")


def test_the_stub_refuses_what_the_services_refuse(stub: StubServer) -> None:
    async def go(provider: Any) -> None:
        await api_of(provider).submit([("not a valid id!", Request(prompt="q"))])

    with pytest.raises(Exception, match="custom_id"):
        with_provider(stub, "anthropic", go)


def test_the_batch_price_is_half_of_every_rate() -> None:
    sync = price_for("anthropic", "claude-sonnet-5-5")
    half = batch_pricing(sync)
    assert (half.input, half.output, half.cache_read, half.cache_write) == (
        sync.input / 2, sync.output / 2, sync.cache_read / 2, sync.cache_write / 2,
    )  # fmt: skip
