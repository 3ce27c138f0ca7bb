"""The `openai-compatible` provider: Chat Completions against any server's `/v1` base URL.

For vLLM, SGLang, Ollama and llama.cpp server — the way to scale past one machine. Temperature
is always sent (default 0.8), so N samples differ. Where the server is known to honour `n`
(`server = "vllm"` / `"sglang"`, or `n_per_request = true` in config), concurrent requests for
the same prompt are coalesced into one request with `n = k`, and `len(choices)` is checked: a
server that returns fewer choices is asked for the rest one by one and is not sent `n` again.
Usage of an `n` request is split evenly over its choices. A seed, when given, becomes
`seed + sample_index`, so a sample is reproducible on servers that honour seeds.

Reasoning servers' `reasoning_content` (vLLM, SGLang) is kept apart as thinking. Every request
asks for token log-probabilities (`logprobs`, `top_logprobs` = 20), and each completion carries
the trace confidence they give (`providers.logprobs`); a server that answers HTTP 400 naming
logprobs is asked again without them, and not asked for them again. This module must not read
the environment: key, base URL and model arrive as arguments.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

from vaultttc.engine.trace import TOP_K
from vaultttc.errors import ProviderError
from vaultttc.providers.base import Capabilities, Completion, Pricing, Request, Usage
from vaultttc.providers.common import (
    DEFAULT_TEMPERATURE,
    HostedIdentity,
    Malformed,
    Tuning,
    chat_turns,
    split_evenly,
)
from vaultttc.providers.logprobs import chat_trace_confidence
from vaultttc.providers.openai import call_openai, make_client

__all__ = ["N_SERVERS", "CompatibleProvider", "chat_params"]

log = logging.getLogger(__name__)
N_SERVERS = ("vllm", "sglang")  # servers known to return n choices for n > 1
MAX_N = 64


def chat_params(request: Request, *, model: str, n: int = 1, logprobs: int = 0) -> dict[str, Any]:
    """The keyword arguments of `chat.completions.create()` (pure)."""
    messages: list[dict[str, str]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages += [{"role": role, "content": text} for role, text in chat_turns(request)]
    temperature = DEFAULT_TEMPERATURE if request.temperature is None else request.temperature
    params: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": request.max_tokens + (request.thinking_budget or 0),
    }
    if n > 1:
        params["n"] = n
    if request.seed is not None:
        params["seed"] = request.seed + request.sample_index
    if request.stop:
        params["stop"] = list(request.stop)
    if request.effort is not None:
        params["reasoning_effort"] = request.effort
    if logprobs > 0:
        params["logprobs"] = True
        params["top_logprobs"] = logprobs
    return params


_Choice = tuple[str, str, str, float | None]


def _choice(choice: Any) -> _Choice:
    try:
        message = choice.message
        extra = getattr(message, "model_extra", None) or {}
        thinking = extra.get("reasoning_content") or extra.get("reasoning") or ""
        text, finish = str(message.content or ""), str(choice.finish_reason or "truncated")
    except AttributeError as exc:
        raise Malformed(f"unexpected choice shape: {exc}") from exc
    return text, str(thinking), finish, chat_trace_confidence(choice)


def _usages(raw: Any, k: int) -> list[Usage]:
    if raw is None:
        return [Usage()] * k
    details = getattr(raw, "completion_tokens_details", None)
    cached_details = getattr(raw, "prompt_tokens_details", None)
    reasoning = int(getattr(details, "reasoning_tokens", 0) or 0)
    cached = int(getattr(cached_details, "cached_tokens", 0) or 0)
    prompt = max(0, int(raw.prompt_tokens or 0) - cached)
    output = max(0, int(raw.completion_tokens or 0) - reasoning)
    parts = zip(
        split_evenly(prompt, k),
        split_evenly(output, k),
        split_evenly(reasoning, k),
        split_evenly(cached, k),
        strict=True,
    )
    return [
        Usage(input_tokens=i, output_tokens=o, thinking_tokens=r, cache_read_tokens=c)
        for i, o, r, c in parts
    ]


@dataclasses.dataclass
class _Batch:
    request: Request
    waiters: dict[int, asyncio.Future[Completion]]


class CompatibleProvider(HostedIdentity):
    """Any OpenAI-compatible Chat Completions server."""

    name = "openai-compatible"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str = "not-needed",
        pricing: Pricing,
        tuning: Tuning | None = None,
        n_per_request: bool = False,
    ) -> None:
        self._model, self._pricing = model, pricing
        self._tuning = tuning or Tuning(max_concurrency=32)
        self._base_url = base_url.rstrip("/")
        self._client = make_client(api_key=api_key, base_url=self._base_url, tuning=self._tuning)
        self._use_n = n_per_request
        self._logprobs = TOP_K
        self._pending: dict[Request, _Batch] = {}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            chat=True,
            thinking=False,
            efforts=(),
            prefill=False,
            max_concurrency=self._tuning.max_concurrency,
            logprobs=self._logprobs,
        )

    def cache_identity(self) -> str:
        return f"chat-completions base_url={self._base_url} logprobs={TOP_K}"

    async def complete(self, request: Request) -> Completion:
        if not self._use_n:
            return (await self._create(request, 1))[0]
        key = dataclasses.replace(request, sample_index=0)
        batch = self._pending.get(key)
        if batch is None or len(batch.waiters) >= MAX_N:
            batch = self._pending[key] = _Batch(request, {})
            asyncio.get_running_loop().call_soon(self._flush_soon, key, batch)
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        batch.waiters[request.sample_index] = future
        return await future

    def _flush_soon(self, key: Request, batch: _Batch) -> None:
        # every request that arrived in this turn of the event loop has joined the batch
        if self._pending.get(key) is batch:
            del self._pending[key]
        task = asyncio.ensure_future(self._flush(batch))
        for future in batch.waiters.values():
            future.add_done_callback(lambda _f: _cancel_if_orphaned(task, batch))

    async def _flush(self, batch: _Batch) -> None:
        indices = sorted(batch.waiters)
        first = dataclasses.replace(batch.request, sample_index=indices[0])
        try:
            got = await self._create(first, len(indices))
            if len(got) < len(indices):
                log.warning(
                    "%s returned %d choices for n=%d; sending one request per sample from now on",
                    self._base_url,
                    len(got),
                    len(indices),
                )
                self._use_n = False
                rest = [
                    dataclasses.replace(batch.request, sample_index=i) for i in indices[len(got) :]
                ]
                got += await asyncio.gather(*(self._one(r) for r in rest))
        except BaseException as exc:
            for future in batch.waiters.values():
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for index, completion in zip(indices, got, strict=False):
            future = batch.waiters[index]
            if not future.done():
                future.set_result(dataclasses.replace(completion, sample_index=index))

    async def _one(self, request: Request) -> Completion:
        return (await self._create(request, 1))[0]

    async def _create(self, request: Request, n: int) -> list[Completion]:
        try:
            return await self._create_once(request, n)
        except ProviderError as exc:
            if not self._logprobs or "HTTP 400" not in str(exc) or "logprob" not in str(exc):
                raise
            log.warning("%s rejects logprobs; asking without them from now on", self._base_url)
            self._logprobs = 0
            return await self._create_once(request, n)

    async def _create_once(self, request: Request, n: int) -> list[Completion]:
        params = chat_params(request, model=self._model, n=n, logprobs=self._logprobs)
        started = time.perf_counter()

        async def create() -> tuple[list[_Choice], list[Usage], str]:
            response = await self._client.chat.completions.create(**params)
            choices = sorted(response.choices, key=lambda c: c.index)[:n]
            if not choices:
                raise Malformed("no choices in the response")
            return (
                [_choice(c) for c in choices],
                _usages(response.usage, len(choices)),
                str(response.model or self._model),
            )

        parsed, usages, model = await call_openai(
            create,
            what=f"openai-compatible {self._model}",
            tuning=self._tuning,
            base_url=self._base_url,
            key_hint="OPENAI_COMPATIBLE_API_KEY",
        )
        latency = time.perf_counter() - started
        return [
            Completion(
                text=text,
                thinking=thinking,
                model=model,
                provider=self.name,
                usage=usage,
                cost_usd=self._pricing.cost(usage),
                latency_s=latency,
                finish_reason=finish,
                sample_index=request.sample_index + i,
                trace_confidence=trace,
            )
            for i, ((text, thinking, finish, trace), usage) in enumerate(
                zip(parsed, usages, strict=True)
            )
        ]

    async def aclose(self) -> None:
        await self._client.close()


def _cancel_if_orphaned(task: asyncio.Future[None], batch: _Batch) -> None:
    """Stop the HTTP request once every sample waiting on it has been cancelled."""
    if all(f.cancelled() for f in batch.waiters.values()):
        task.cancel()
