"""The provider interface: request and completion values and the `Provider` protocol.

This module is the contract between strategies and the five providers. It holds values and a
protocol only; no SDK is imported here and nothing here does IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "Capabilities",
    "Completion",
    "Message",
    "Pricing",
    "Provider",
    "Request",
    "Usage",
]


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class Request:
    """One sample's worth of asking.

    `prompt` is the user turn for chat models and the whole text for base models. `prefix` is
    text the answer must continue from (a partial solution in beam/MCTS search, or a code stub):
    chat providers send it as an assistant prefill where the API allows, base models append it.
    `sample_index` distinguishes the N samples of one prompt (it feeds the cache key, the seed
    and replay's lookup).
    """

    prompt: str
    system: str | None = None
    messages: tuple[Message, ...] = ()
    prefix: str = ""
    max_tokens: int = 1024
    thinking_budget: int | None = None
    effort: str | None = None
    temperature: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    sample_index: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.thinking_tokens + other.thinking_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider's answer to one `Request`. `thinking` is never part of `text`.

    `trace_confidence` is DeepConf's confidence of the sampled trace (`engine.trace`), set by
    providers whose backend returned token log-probabilities; None where it could not.
    """

    text: str
    model: str
    provider: str
    usage: Usage = field(default_factory=Usage)
    thinking: str = ""
    cost_usd: float = 0.0
    latency_s: float = 0.0
    finish_reason: str = "stop"
    cached: bool = False
    sample_index: int = 0
    trace_confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider's model can do; strategies consult this instead of provider names.

    `logprobs` is how many top log-probabilities per token the backend returns (0: none, so its
    completions carry no trace confidence).
    """

    chat: bool = True
    thinking: bool = False
    efforts: tuple[str, ...] = ()
    prefill: bool = True
    max_concurrency: int = 8
    logprobs: int = 0


@dataclass(frozen=True, slots=True)
class Pricing:
    """USD per million tokens. Thinking tokens bill as output; cache reads/writes at their rate."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0

    def cost(self, usage: Usage) -> float:
        billed_output = usage.output_tokens + usage.thinking_tokens
        return (
            usage.input_tokens * self.input
            + billed_output * self.output
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
        ) / 1_000_000

    def worst_case(self, request: Request) -> float:
        """An upper bound on one request's cost, checked against `max_cost_usd` before sending."""
        text = request.prompt + (request.system or "") + request.prefix
        text += "".join(m.content for m in request.messages)
        input_bound = len(text.encode("utf-8"))  # a token is at least one byte
        output_bound = request.max_tokens + (request.thinking_budget or 0)
        return (input_bound * self.input + output_bound * self.output) / 1_000_000


@runtime_checkable
class Provider(Protocol):
    """One model behind one API. Implementations must be safe to call concurrently."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def pricing(self) -> Pricing: ...

    def cache_identity(self) -> str:
        """Everything besides the request that determines the output (e.g. base URL, GGUF)."""
        ...

    async def complete(self, request: Request) -> Completion: ...

    async def aclose(self) -> None: ...
