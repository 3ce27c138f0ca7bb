"""The `anthropic` provider: the Messages API through the `anthropic` SDK (2.x).

What it sends is decided from the model's own capabilities (`models.retrieve`, fetched once on
first use): extended thinking `{"type": "enabled", "budget_tokens": B}` where the model takes a
budget, else `{"type": "adaptive"}` with `output_config.effort` mapped from the budget. It never
sends `temperature` (API version 2026-10-21 rejects it); there is no `n`, so N samples are N
concurrent requests. A prompt long enough to cache carries `cache_control`, and the first of
several concurrent requests for it goes alone until its first event arrives (the pre-warm),
so the others read the cache instead of each writing it. Every call streams, which lifts the
SDK's refusal of long non-streaming requests; the timeout is per read.
`params_for` and `completion_of` are what `anthropic_batch.py` sends and reads too, so a
Message Batch item asks and parses exactly what a streamed call does.

Thinking blocks are selected by type, counted, and kept out of `text`. The Messages API returns
no token log-probabilities, so completions carry no trace confidence and the capabilities say
`logprobs=0`. This module must not read the environment: the key and base URL arrive as
arguments.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2

from vaultttc.errors import ProviderError
from vaultttc.providers.base import Capabilities, Completion, Pricing, Request, Usage
from vaultttc.providers.common import (
    HostedIdentity,
    Malformed,
    Tuning,
    continuation_text,
    effort_for_budget,
    one_line,
    retry_malformed,
    status_error_text,
)
from vaultttc.providers.defaults import ANTHROPIC_CACHE_MIN_TOKENS, ANTHROPIC_DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "AnthropicProvider", "ModelCaps", "message_params"]

DEFAULT_MODEL = ANTHROPIC_DEFAULT_MODEL
MIN_BUDGET = 1024
CACHE_MIN_TOKENS = ANTHROPIC_CACHE_MIN_TOKENS
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


@dataclass(frozen=True, slots=True)
class ModelCaps:
    """The parts of `ModelInfo.capabilities` that shape a request."""

    thinking: bool = True
    enabled: bool = True
    adaptive: bool = False
    disabled: bool = True
    efforts: tuple[str, ...] = ()
    max_tokens: int | None = None

    @classmethod
    def from_info(cls, info: Any) -> ModelCaps:
        caps = getattr(info, "capabilities", None)
        max_tokens = getattr(info, "max_tokens", None)
        if caps is None:
            return cls(max_tokens=max_tokens)
        types, effort = caps.thinking.types, caps.effort
        efforts = tuple(
            level
            for level in ("low", "medium", "high", "xhigh", "max")
            if effort.supported and getattr(getattr(effort, level, None), "supported", False)
        )
        return cls(
            thinking=caps.thinking.supported,
            enabled=types.enabled.supported,
            adaptive=types.adaptive.supported,
            disabled=types.disabled.supported,
            efforts=efforts,
            max_tokens=max_tokens,
        )


def _thinking(request: Request, caps: ModelCaps, model: str) -> tuple[dict[str, Any], int]:
    """`thinking`/`output_config` params and the tokens added to max_tokens for thinking."""
    effort, budget = request.effort, request.thinking_budget
    if effort is not None and effort not in caps.efforts:
        allowed = ", ".join(caps.efforts) or "none"
        raise ProviderError(
            f"anthropic {model}: effort {effort!r} is not supported (supported: {allowed})"
        )
    params: dict[str, Any] = {}
    extra = 0
    if budget == 0 and caps.disabled:
        params["thinking"] = {"type": "disabled"}
    elif budget:
        if not caps.thinking or not (caps.enabled or caps.adaptive):
            raise ProviderError(f"anthropic {model}: this model does not support thinking")
        extra = max(MIN_BUDGET, budget)
        if caps.enabled:
            params["thinking"] = {"type": "enabled", "budget_tokens": extra}
        else:
            params["thinking"] = {"type": "adaptive"}
            if caps.efforts:
                effort = effort or effort_for_budget(budget, caps.efforts)
    if effort is not None:
        params["output_config"] = {"effort": effort}
    return params, extra


def _user_content(request: Request, cache: bool) -> list[dict[str, Any]]:
    block: dict[str, Any] = {"type": "text", "text": request.prompt}
    if cache:
        block["cache_control"] = {"type": "ephemeral"}
    blocks = [block]
    if request.prefix:  # outside the cached block: it differs between search nodes
        blocks.append({"type": "text", "text": continuation_text(request.prefix)})
    return blocks


def message_params(request: Request, caps: ModelCaps, *, model: str, cache: bool) -> dict[str, Any]:
    """The keyword arguments of `messages.stream()` for one request (pure)."""
    thinking, extra = _thinking(request, caps, model)
    max_tokens = request.max_tokens + extra
    if caps.max_tokens is not None and max_tokens > caps.max_tokens:
        max_tokens = caps.max_tokens
        if "budget_tokens" in thinking.get("thinking", {}):
            thinking["thinking"]["budget_tokens"] = max(MIN_BUDGET, min(extra, max_tokens - 1))
    messages: list[dict[str, Any]] = [
        {"role": m.role, "content": m.content} for m in request.messages
    ]
    messages.append({"role": "user", "content": _user_content(request, cache)})
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": messages,
        **thinking,
    }
    if request.system:
        params["system"] = request.system
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    return params


def _cacheable(request: Request, min_tokens: int) -> bool:
    shared = (request.system or "") + request.prompt + "".join(m.content for m in request.messages)
    return len(shared) // 4 >= min_tokens  # ~4 characters a token: a cheap, rough estimate


def _usage(raw: Any) -> Usage:
    details = getattr(raw, "output_tokens_details", None)
    thinking = int(getattr(details, "thinking_tokens", 0) or 0)
    output = int(raw.output_tokens)
    return Usage(
        input_tokens=int(raw.input_tokens or 0),
        output_tokens=max(0, output - thinking),
        thinking_tokens=thinking,
        cache_read_tokens=int(raw.cache_read_input_tokens or 0),
        cache_write_tokens=int(raw.cache_creation_input_tokens or 0),
    )


def _parse(message: Any) -> tuple[str, str, Usage, str]:
    try:
        blocks = list(message.content)
        text = "".join(b.text for b in blocks if b.type == "text")
        thinking = "\n\n".join(b.thinking for b in blocks if b.type == "thinking")
        usage = _usage(message.usage)
        stop = str(message.stop_reason or "truncated")  # no stop reason: the stream was cut
    except (AttributeError, TypeError, ValueError) as exc:
        raise Malformed(f"unexpected message shape: {exc}") from exc
    return text, thinking, usage, _FINISH.get(stop, stop)


class _Warmups:
    """Which cacheable prefixes have been (or are being) written to the provider's cache."""

    def __init__(self, size: int = 256) -> None:
        self._events: OrderedDict[str, asyncio.Event] = OrderedDict()
        self._size = size

    async def enter(self, key: str) -> asyncio.Event | None:
        """An event to set once the prefix is cached if the caller warms it; else None."""
        event = self._events.get(key)
        if event is None:
            self._events[key] = event = asyncio.Event()
            while len(self._events) > self._size:
                self._events.popitem(last=False)
            return event
        await event.wait()
        return None

    def failed(self, key: str) -> None:
        self._events.pop(key, None)


def _warm_key(params: dict[str, Any]) -> str:
    shared = [
        params["model"],
        params.get("system"),
        params["messages"][:-1],
        params["messages"][-1]["content"][0],
    ]
    return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()


class AnthropicProvider(HostedIdentity):
    """Claude models behind the Messages API."""

    name = "anthropic"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | None,
        auth_token: str | None = None,
        base_url: str = "https://api.anthropic.com",
        pricing: Pricing,
        tuning: Tuning | None = None,
        cache_min_tokens: int = CACHE_MIN_TOKENS,
    ) -> None:
        self._model, self._pricing, self._tuning = model, pricing, tuning or Tuning()
        self._base_url = base_url.rstrip("/")
        self._cache_min_tokens = cache_min_tokens
        timeout = httpx2.Timeout(self._tuning.timeout_s, connect=self._tuning.connect_timeout_s)
        credential = {"api_key": api_key} if api_key else {"auth_token": auth_token}
        self._client = anthropic.AsyncAnthropic(
            **credential,
            base_url=self._base_url,
            timeout=timeout,
            max_retries=self._tuning.max_retries,
        )
        self._caps: ModelCaps | None = None
        self._caps_lock = asyncio.Lock()
        self._warmups = _Warmups()

    @property
    def capabilities(self) -> Capabilities:
        """The model's capabilities; a default guess until `prepare()` or a first request."""
        caps = self._caps or ModelCaps(efforts=("low", "medium", "high"))
        return Capabilities(
            chat=True,
            thinking=caps.thinking and (caps.enabled or caps.adaptive),
            efforts=caps.efforts,
            prefill=False,
            max_concurrency=self._tuning.max_concurrency,
            logprobs=0,  # the Messages API has no token log-probabilities
        )

    def cache_identity(self) -> str:
        return f"anthropic-messages base_url={self._base_url}"

    async def prepare(self) -> None:
        """Fetch the model's capabilities once (`client.models.retrieve`)."""
        async with self._caps_lock:
            if self._caps is None:
                info = await self._call(lambda: self._client.models.retrieve(self._model))
                self._caps = ModelCaps.from_info(info)

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        """The SDK client (`anthropic_batch.py` sends Message Batches through it)."""
        return self._client

    async def params_for(self, request: Request) -> tuple[dict[str, Any], bool]:
        """The Messages params for `request`, and whether they carry `cache_control`:
        `complete()` streams them, a Message Batch item holds them as they are."""
        await self.prepare()
        assert self._caps is not None
        cache = _cacheable(request, self._cache_min_tokens)
        return message_params(request, self._caps, model=self._model, cache=cache), cache

    def completion_of(
        self,
        message: Any,
        request: Request,
        *,
        pricing: Pricing | None = None,
        latency_s: float = 0.0,
    ) -> Completion:
        """A finished `Message` as the completion of `request` (priced by `pricing`, else
        this provider's synchronous price)."""
        text, thinking, usage, finish = _parse(message)
        return Completion(
            text=text,
            thinking=thinking,
            model=str(getattr(message, "model", self._model)),
            provider=self.name,
            usage=usage,
            cost_usd=(pricing or self._pricing).cost(usage),
            latency_s=latency_s,
            finish_reason=finish,
            sample_index=request.sample_index,
        )

    async def call(self, call: Any) -> Any:
        """An SDK call with this provider's retries for malformed replies and its errors."""
        return await self._call(call)

    async def complete(self, request: Request) -> Completion:
        params, cache = await self.params_for(request)
        key = _warm_key(params) if cache else None
        warmer = await self._warmups.enter(key) if key else None
        started = time.perf_counter()
        try:
            message = await self._call(lambda: self._stream(params, warmer))
        except BaseException:
            if warmer is not None and key is not None:
                self._warmups.failed(key)
            raise
        finally:
            if warmer is not None:
                warmer.set()
        return self.completion_of(message, request, latency_s=time.perf_counter() - started)

    async def _stream(self, params: dict[str, Any], warmer: asyncio.Event | None) -> Any:
        try:
            async with self._client.messages.stream(**params) as stream:
                async for event in stream:
                    if warmer is not None and event.type == "message_start":
                        warmer.set()  # the prefix is cached once the prompt is read
                return await stream.get_final_message()
        except (RuntimeError, TypeError, KeyError, AttributeError, AssertionError) as exc:
            raise Malformed(str(exc)) from exc

    async def _call(self, call: Any) -> Any:
        what = f"anthropic {self._model}"
        try:
            return await retry_malformed(call, attempts=self._tuning.max_retries + 1, what=what)
        except anthropic.APIStatusError as exc:
            text = status_error_text(exc.status_code, exc.body, exc.message)
            if exc.status_code in (401, 403):
                text += " (check ANTHROPIC_API_KEY)"
            raise ProviderError(f"{what}: {text}") from exc
        except anthropic.APITimeoutError as exc:
            raise ProviderError(
                f"{what}: timed out after {self._tuning.timeout_s:g}s "
                f"({self._tuning.max_retries} retries)"
            ) from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderError(one_line(f"{what}: cannot reach {self._base_url}: {exc}")) from exc

    async def aclose(self) -> None:
        await self._client.close()
