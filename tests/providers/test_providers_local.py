"""The local provider on the real Gemma 3 270M GGUF through llama-cpp-python (no stubs)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from vaultttc.engine.sampling import Lane, Sampler
from vaultttc.engine.trace import TOP_K
from vaultttc.errors import ProviderError
from vaultttc.providers.base import Completion, Request
from vaultttc.providers.local import LocalProvider, base_prompt
from vaultttc.providers.registry import build_provider

pytestmark = pytest.mark.local_model


@pytest.fixture(scope="module")
def gemma() -> Iterator[LocalProvider]:
    provider = build_provider("local", config={"providers": {"local": {"n_ctx": 512}}}, env={})
    assert isinstance(provider, LocalProvider)
    yield provider
    asyncio.run(provider.aclose())


def ask(provider: LocalProvider, request: Request) -> Completion:
    return asyncio.run(provider.complete(request))


def test_the_packaged_model_completes_a_prompt(gemma: LocalProvider) -> None:
    done = ask(
        gemma, Request(prompt="Question: What is the capital of France?\nAnswer:", max_tokens=16)
    )
    assert isinstance(done.text, str) and done.text.strip()
    assert done.usage.input_tokens > 5 and 0 < done.usage.output_tokens <= 16
    assert done.finish_reason in ("stop", "length")
    assert (done.provider, done.model, done.cost_usd) == ("local", "gemma-3-270m-q4_k_m", 0.0)


@pytest.mark.slow
def test_samples_are_seeded_by_index(gemma: LocalProvider) -> None:
    request = Request(prompt="Once upon a time", max_tokens=24)
    texts = [
        ask(gemma, Request(prompt=request.prompt, max_tokens=24, sample_index=i)).text
        for i in range(3)
    ]
    again = ask(gemma, Request(prompt=request.prompt, max_tokens=24, sample_index=1)).text
    assert again == texts[1]
    assert len(set(texts)) >= 2


def test_stop_sequences_end_the_text(gemma: LocalProvider) -> None:
    done = ask(gemma, Request(prompt="A list of fruits:\n1.", stop=("\n",), max_tokens=40))
    assert "\n" not in done.text


def test_a_prefix_is_continued(gemma: LocalProvider) -> None:
    request = Request(prompt="Q: 2+2?", system="Answer briefly.", prefix="\nA:")
    assert base_prompt(request) == "Answer briefly.\n\nQ: 2+2?\nA:"
    assert ask(gemma, Request(prompt="Q: 2+2?", prefix="\nA:", max_tokens=4)).text


def test_a_prompt_longer_than_the_context_is_a_clear_error(gemma: LocalProvider) -> None:
    with pytest.raises(ProviderError, match="more than the context of 512"):
        ask(gemma, Request(prompt="word " * 2000))


def test_closing_a_stream_early_stops_generation_and_leaves_the_model_usable(
    gemma: LocalProvider,
) -> None:
    async def go() -> tuple[Sampler, Completion]:
        sampler = Sampler(Lane(gemma), max_samples=3)
        request = Request(prompt="The history of Rome", max_tokens=48)
        async with contextlib.aclosing(sampler.stream(request, 3)) as stream:
            await anext(stream)
        after = await gemma.complete(Request(prompt="Hello", max_tokens=4))
        return sampler, after

    sampler, after = asyncio.run(go())
    assert sampler.drawn == 1 and sampler.remaining == 2
    assert after.usage.output_tokens > 0


def test_the_embedded_model_gives_every_completion_a_trace_confidence(
    gemma: LocalProvider,
) -> None:
    assert gemma.capabilities.logprobs == TOP_K
    done = ask(gemma, Request(prompt="Question: What is 2 + 3?\nAnswer:", max_tokens=12))
    assert done.trace_confidence is not None and done.trace_confidence > 0
    again = ask(gemma, Request(prompt="Question: What is 2 + 3?\nAnswer:", max_tokens=12))
    assert again.trace_confidence == done.trace_confidence  # seeded: the same trace, the same value
