"""Pieces every remote provider shares: chat turns, effort mapping, error text, retries.

Pure helpers plus one retry loop for malformed replies (the SDKs already retry rate limits, 5xx
and timeouts themselves, but not a 200 whose body is garbage). No SDK is imported here, and
nothing here reads the environment.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from vaultttc.errors import ProviderError
from vaultttc.providers.base import Pricing, Request

__all__ = [
    "DEFAULT_TEMPERATURE",
    "EFFORT_LEVELS",
    "HostedIdentity",
    "Malformed",
    "Tuning",
    "chat_turns",
    "continuation_text",
    "effort_for_budget",
    "one_line",
    "retry_malformed",
    "split_evenly",
    "status_error_text",
]

T = TypeVar("T")

DEFAULT_TEMPERATURE = 0.8
EFFORT_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# thinking budget (tokens) at or above which an effort level is chosen
_BUDGET_EFFORT = ((32_000, "max"), (16_000, "xhigh"), (8_000, "high"), (2_000, "medium"))

CONTINUE_INSTRUCTION = (
    "Your answer so far is below. Continue it exactly where it stops; do not repeat it."
)


@dataclass(frozen=True, slots=True)
class Tuning:
    """How a remote provider talks to its API (from `[providers.NAME]` in config.toml)."""

    max_concurrency: int = 16
    timeout_s: float = 600.0
    connect_timeout_s: float = 10.0
    max_retries: int = 3


class Malformed(Exception):
    """A reply arrived but could not be understood (garbage JSON, missing fields)."""


MALFORMED: tuple[type[BaseException], ...] = (Malformed, json.JSONDecodeError, UnicodeError)


def chat_turns(request: Request) -> list[tuple[str, str]]:
    """The conversation to send: earlier messages, then the prompt as the last user turn.

    Chat APIs here do not all accept an assistant prefill, so a `prefix` travels inside the
    user turn with an instruction to continue it; the completion's text is the continuation.
    """
    turns: list[tuple[str, str]] = [(m.role, m.content) for m in request.messages]
    text = request.prompt
    if request.prefix:
        text = f"{text}\n\n{continuation_text(request.prefix)}"
    turns.append(("user", text))
    return turns


def continuation_text(prefix: str) -> str:
    """The part of a user turn that carries a partial answer to be continued."""
    return f"{CONTINUE_INSTRUCTION}\n\n{prefix}"


def effort_for_budget(budget: int, allowed: Sequence[str]) -> str:
    """The effort level a thinking budget maps to, clamped to what the model allows."""
    wanted = next((level for floor, level in _BUDGET_EFFORT if budget >= floor), "low")
    order = [level for level in EFFORT_LEVELS if level in allowed]
    if not order or wanted in order:
        return wanted
    rank = EFFORT_LEVELS.index(wanted)
    below = [level for level in order if EFFORT_LEVELS.index(level) <= rank]
    return below[-1] if below else order[0]


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` split into `parts` integers that sum to it (the first ones take the remainder)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def one_line(text: str, limit: int = 300) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def status_error_text(status: int, body: object, fallback: str) -> str:
    """`HTTP 429: <the server's own message>` from an SDK status error's parsed body."""
    message = fallback
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            message = inner["message"]
        elif isinstance(body.get("message"), str):
            message = body["message"]
    return one_line(f"HTTP {status}: {message}")


async def retry_malformed(
    call: Callable[[], Awaitable[T]], *, attempts: int, what: str, backoff: float = 0.1
) -> T:
    """Run `call`, retrying with backoff while the reply is malformed; then `ProviderError`."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except MALFORMED as exc:
            if attempt == attempts:
                raise ProviderError(
                    one_line(f"{what}: malformed response after {attempts} attempts: {exc}")
                ) from exc
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


class HostedIdentity:
    """`name`, `model` and `pricing` for the hosted providers, which keep them as attributes."""

    name: str = ""
    _model: str
    _pricing: Pricing

    @property
    def model(self) -> str:
        return self._model

    @property
    def pricing(self) -> Pricing:
        return self._pricing
