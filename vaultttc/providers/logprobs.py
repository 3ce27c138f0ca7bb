"""Token log-probabilities out of OpenAI-shaped replies, turned into a trace confidence.

Chat Completions (OpenAI, vLLM, SGLang, Ollama, llama.cpp server) answer `logprobs: true,
top_logprobs: k` with `choice.logprobs.content`: per token, its `logprob` and the `top_logprobs`
list of the k most likely tokens. The Responses API answers `top_logprobs: k` with
`include: ["message.output_text.logprobs"]` in the same per-token shape, on each `output_text`
part. A token without alternatives counts with its own log-probability only.

Duck-typed over the SDKs' objects (and plain dicts, as some servers' extras arrive), so no SDK
is imported here; no IO.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vaultttc.engine.trace import token_confidence, trace_confidence

__all__ = ["chat_trace_confidence", "responses_trace_confidence", "tokens_confidence"]


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def tokens_confidence(tokens: Iterable[Any] | None) -> float | None:
    """The trace confidence of a list of per-token logprob entries (None when empty)."""
    values: list[float] = []
    for token in tokens or ():
        top = [_get(t, "logprob") for t in (_get(token, "top_logprobs") or ())]
        numbers = [float(v) for v in top if isinstance(v, int | float)]
        if not numbers and isinstance(_get(token, "logprob"), int | float):
            numbers = [float(_get(token, "logprob"))]
        value = token_confidence(numbers)
        if value is not None:
            values.append(value)
    return trace_confidence(values)


def chat_trace_confidence(choice: Any) -> float | None:
    """A Chat Completions choice's trace confidence, or None without logprobs."""
    return tokens_confidence(_get(_get(choice, "logprobs"), "content"))


def responses_trace_confidence(response: Any) -> float | None:
    """A Responses API reply's trace confidence over its output text, or None."""
    tokens: list[Any] = []
    for item in _get(response, "output") or ():
        if _get(item, "type") != "message":
            continue
        for part in _get(item, "content") or ():
            if _get(part, "type") == "output_text":
                tokens.extend(_get(part, "logprobs") or ())
    return tokens_confidence(tokens)
