"""The `openai` provider: the Responses API through the `openai` SDK (3.x).

Reasoning effort goes in `reasoning={"effort": …}`; a thinking budget without an effort maps to
one. Which efforts a model takes varies: a known model's list is checked before sending (a clear
error names the allowed values), and a server's 400 about effort is turned into the same kind
of message. Reasoning tokens are counted from `output_tokens_details`; cached input from
`input_tokens_details`. `temperature` is not sent (reasoning models reject it), and since the
Responses API has no stop sequences, `stop` is applied to the returned text.

Non-reasoning models (`NON_REASONING`: GPT-4.1, GPT-4o and older) are asked for token
log-probabilities (`top_logprobs` = 20 with `include: ["message.output_text.logprobs"]`), and
their completions carry a trace confidence; reasoning models return none, so they are not
asked and their capabilities say `logprobs=0`.

`call_openai` (error mapping around the SDK) is shared with `compatible.py`; `completion_of`
and `response_from_json` with `openai_batch.py`, so a Batch API line reads like a direct reply.
This module must not read the environment: the key and base URL arrive as arguments.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx2
import openai

from vaultttc.engine.trace import TOP_K
from vaultttc.errors import ProviderError
from vaultttc.providers.base import Capabilities, Completion, Pricing, Request, Usage
from vaultttc.providers.common import (
    EFFORT_LEVELS,
    HostedIdentity,
    Malformed,
    Tuning,
    chat_turns,
    effort_for_budget,
    one_line,
    retry_malformed,
    status_error_text,
)
from vaultttc.providers.defaults import OPENAI_DEFAULT_MODEL
from vaultttc.providers.logprobs import responses_trace_confidence

__all__ = [
    "DEFAULT_MODEL",
    "KNOWN_EFFORTS",
    "NON_REASONING",
    "OpenAIProvider",
    "call_openai",
    "response_params",
]

T = TypeVar("T")
DEFAULT_MODEL = OPENAI_DEFAULT_MODEL
_FULL = ("none", "low", "medium", "high", "xhigh", "max")
KNOWN_EFFORTS: Mapping[str, tuple[str, ...]] = {
    "gpt-6.1-sol": ("low", "medium", "high", "xhigh", "max"),
    "gpt-6-sol": _FULL,
    "gpt-5.6-sol": _FULL,
    "gpt-5.5": ("none", "low", "medium", "high", "xhigh"),
    "gpt-5.4": ("none", "low", "medium", "high", "xhigh"),
    "gpt-5.2": ("none", "low", "medium", "high", "xhigh"),
    "gpt-5.1": ("none", "low", "medium", "high"),
    "gpt-5": ("minimal", "low", "medium", "high"),
    "gpt-5-mini": ("minimal", "low", "medium", "high"),
    "gpt-5-nano": ("minimal", "low", "medium", "high"),
    "o3": ("low", "medium", "high"),
    "o4-mini": ("low", "medium", "high"),
}
_UNKNOWN_EFFORTS = ("low", "medium", "high")
# models without reasoning: they take no effort and return token log-probabilities
NON_REASONING = (
    "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "gpt-4-turbo", "gpt-4",
    "gpt-3.5-turbo", "chatgpt-4o-latest",
)  # fmt: skip


def _known(model: str, base: str) -> bool:
    return model == base or model.startswith(base + "-2")


def efforts_of(model: str) -> tuple[str, ...] | None:
    """The efforts a known model accepts (dated snapshots match their base id); else None."""
    if any(_known(model, base) for base in NON_REASONING):
        return ()
    for base in sorted(KNOWN_EFFORTS, key=len, reverse=True):
        if _known(model, base):
            return KNOWN_EFFORTS[base]
    return None


def logprobs_of(model: str) -> int:
    """How many top log-probabilities per token the model returns (0: a reasoning model)."""
    return TOP_K if any(_known(model, base) for base in NON_REASONING) else 0


def _effort(request: Request, model: str) -> str | None:
    allowed = efforts_of(model)
    effort = request.effort
    if effort is None and request.thinking_budget and allowed != ():
        effort = effort_for_budget(request.thinking_budget, allowed or _UNKNOWN_EFFORTS)
    if effort is None:
        return None
    if allowed == ():
        raise ProviderError(f"openai {model}: a model without reasoning takes no effort")
    if effort not in EFFORT_LEVELS or (allowed is not None and effort not in allowed):
        shown = ", ".join(allowed or EFFORT_LEVELS)
        raise ProviderError(
            f"openai {model}: reasoning effort {effort!r} is not supported (supported: {shown})"
        )
    return effort


def response_params(request: Request, *, model: str) -> dict[str, Any]:
    """The keyword arguments of `responses.create()` for one request (pure)."""
    params: dict[str, Any] = {
        "model": model,
        "input": [{"role": role, "content": text} for role, text in chat_turns(request)],
        "max_output_tokens": request.max_tokens + (request.thinking_budget or 0),
        "store": False,
    }
    if request.system:
        params["instructions"] = request.system
    effort = _effort(request, model)
    if effort is not None:
        params["reasoning"] = {"effort": effort}
    if logprobs_of(model):
        params["top_logprobs"] = logprobs_of(model)
        params["include"] = ["message.output_text.logprobs"]
    return params


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    cuts = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def _usage(raw: Any) -> Usage:
    inp, out = raw.input_tokens_details, raw.output_tokens_details
    cached = int(getattr(inp, "cached_tokens", 0) or 0)
    written = int(getattr(inp, "cache_write_tokens", 0) or 0)
    reasoning = int(getattr(out, "reasoning_tokens", 0) or 0)
    return Usage(
        input_tokens=max(0, int(raw.input_tokens) - cached - written),
        output_tokens=max(0, int(raw.output_tokens) - reasoning),
        thinking_tokens=reasoning,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


def _parse(response: Any, stops: tuple[str, ...]) -> tuple[str, str, Usage, str, float | None]:
    if getattr(response, "status", None) == "failed":
        error = getattr(response, "error", None)
        raise ProviderError(one_line(f"response failed: {getattr(error, 'message', error)}"))
    try:
        items = list(response.output)
        thinking = "\n\n".join(
            part.text
            for item in items
            if item.type == "reasoning"
            for part in (getattr(item, "summary", None) or [])
            if getattr(part, "text", None)
        )
        text, stopped = _cut_at_stop(response.output_text, stops)
        usage = _usage(response.usage)
    except (AttributeError, TypeError, ValueError) as exc:
        raise Malformed(f"unexpected response shape: {exc}") from exc
    finish = "stop"
    details = getattr(response, "incomplete_details", None)
    if response.status == "incomplete" and not stopped:
        reason = str(getattr(details, "reason", "") or "incomplete")
        finish = "length" if reason == "max_output_tokens" else reason
    return text, thinking, usage, finish, responses_trace_confidence(response)


async def call_openai(
    call: Callable[[], Awaitable[T]], *, what: str, tuning: Tuning, base_url: str, key_hint: str
) -> T:
    """Run an SDK call: malformed replies retried, SDK errors mapped to `ProviderError`."""
    try:
        return await retry_malformed(call, attempts=tuning.max_retries + 1, what=what)
    except openai.APIStatusError as exc:
        text = status_error_text(exc.status_code, exc.body, exc.message)
        if exc.status_code in (401, 403):
            text += f" (check {key_hint})"
        elif exc.status_code == 400 and "effort" in text.lower():
            text = "reasoning effort not supported by this model: " + text
        raise ProviderError(f"{what}: {text}") from exc
    except openai.APITimeoutError as exc:
        raise ProviderError(
            f"{what}: timed out after {tuning.timeout_s:g}s ({tuning.max_retries} retries)"
        ) from exc
    except openai.APIConnectionError as exc:
        raise ProviderError(one_line(f"{what}: cannot reach {base_url}: {exc}")) from exc


def make_client(*, api_key: str, base_url: str, tuning: Tuning) -> openai.AsyncOpenAI:
    timeout = httpx2.Timeout(tuning.timeout_s, connect=tuning.connect_timeout_s)
    return openai.AsyncOpenAI(
        api_key=api_key, base_url=base_url, timeout=timeout, max_retries=tuning.max_retries
    )


class OpenAIProvider(HostedIdentity):
    """OpenAI models behind the Responses API."""

    name = "openai"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str,
        base_url: str = "https://api.openai.com/v1",
        pricing: Pricing,
        tuning: Tuning | None = None,
    ) -> None:
        self._model, self._pricing, self._tuning = model, pricing, tuning or Tuning()
        self._base_url = base_url.rstrip("/")
        self._client = make_client(api_key=api_key, base_url=self._base_url, tuning=self._tuning)

    @property
    def capabilities(self) -> Capabilities:
        efforts = efforts_of(self._model)
        return Capabilities(
            chat=True,
            thinking=efforts is None or bool(efforts),
            efforts=efforts if efforts is not None else _UNKNOWN_EFFORTS,
            prefill=False,
            max_concurrency=self._tuning.max_concurrency,
            logprobs=logprobs_of(self._model),
        )

    def cache_identity(self) -> str:
        return f"openai-responses base_url={self._base_url}"

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The SDK client (`openai_batch.py` sends Batch API files and batches through it)."""
        return self._client

    async def call(self, call: Callable[[], Awaitable[T]]) -> T:
        """An SDK call with this provider's retries for malformed replies and its errors."""
        return await call_openai(
            call, what=f"openai {self._model}", tuning=self._tuning, base_url=self._base_url,
            key_hint="OPENAI_API_KEY",
        )  # fmt: skip

    @staticmethod
    def response_from_json(body: Mapping[str, Any]) -> Any:
        """A Responses API `Response` from its JSON (a Batch API output line's body)."""
        try:
            return openai.types.responses.Response.model_validate(body)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise Malformed(f"unexpected response shape: {one_line(str(exc))}") from exc

    def completion_of(
        self,
        response: Any,
        request: Request,
        *,
        pricing: Pricing | None = None,
        latency_s: float = 0.0,
    ) -> Completion:
        """A Responses API `Response` as the completion of `request` (priced by `pricing`,
        else this provider's synchronous price)."""
        text, thinking, usage, finish, trace = _parse(response, request.stop)
        return Completion(
            text=text,
            thinking=thinking,
            model=str(getattr(response, "model", self._model)),
            provider=self.name,
            usage=usage,
            cost_usd=(pricing or self._pricing).cost(usage),
            latency_s=latency_s,
            finish_reason=finish,
            sample_index=request.sample_index,
            trace_confidence=trace,
        )

    async def complete(self, request: Request) -> Completion:
        params = response_params(request, model=self._model)
        started = time.perf_counter()

        async def create() -> Completion:
            response = await self._client.responses.create(**params)
            return self.completion_of(response, request)  # parsed inside: garbage is retried

        completion = await self.call(create)
        return dataclasses.replace(completion, latency_s=time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._client.close()
