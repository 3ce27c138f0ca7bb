"""A quote before any call: the expected and worst-case tokens and USD of a planned question.

Pure: from the job's strategy and settings, the prompt it would send (built by the same
prompt functions the strategies use) and the provider's price table. Input tokens are
estimated from the prompt's length (4 characters a token, stated as an estimate), output
tokens from the model's typical output in this vault (the spend ledger) or, without history,
a default. The worst case is every sample at its token cap (and a judge call per sample when
the verifier is a judge) — what the budgets reserve before each request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vaultttc.engine.runner import Job
from vaultttc.providers.base import Provider, Usage
from vaultttc.strategies.shared.prompts import answer_request

__all__ = ["CHARS_PER_TOKEN", "DEFAULT_OUTPUT", "Quote", "quote_job"]

CHARS_PER_TOKEN = 4
DEFAULT_OUTPUT = 256  # output tokens per sample when the vault has no history for the model


@dataclass(frozen=True, slots=True)
class Quote:
    samples: int
    worst_samples: int
    input_tokens: int
    output_tokens: int
    thinking_tokens: int
    expected_usd: float
    worst_usd: float
    estimate: str = "4 chars/token; output from history or 256"

    def __add__(self, other: Quote) -> Quote:
        return Quote(
            self.samples + other.samples, self.worst_samples + other.worst_samples,
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
            self.thinking_tokens + other.thinking_tokens,
            self.expected_usd + other.expected_usd, self.worst_usd + other.worst_usd,
        )  # fmt: skip


ZERO = Quote(0, 0, 0, 0, 0, 0.0, 0.0)


def _samples(strategy: str, n: int) -> tuple[int, int]:
    """(expected, worst) samples a strategy draws with budget `n`."""
    if strategy in ("direct", "thinking", "effort"):
        return 1, 1
    if strategy == "adaptive-consistency":  # stops early; measured ~half the cap on the pools
        return min(n, max(3, math.ceil(n / 2))), n
    if strategy == "auto":  # a router call, then a strategy within the budget
        return 1 + min(n, max(1, math.ceil(n / 2))), 1 + n
    return n, n


def quote_job(job: Job, provider: Provider, *, typical_output: float | None) -> Quote:
    settings = job.settings
    thinking = settings.thinking_budget if settings.strategy in ("thinking", "auto") else None
    request = answer_request(
        job.task, provider.capabilities, max_tokens=settings.max_tokens,
        thinking_budget=thinking, effort=settings.effort,
    )  # fmt: skip
    prompt = request.prompt + (request.system or "") + (request.prefix or "")
    tokens_in = max(1, math.ceil(len(prompt) / CHARS_PER_TOKEN))
    expected, worst = _samples(settings.strategy, settings.samples)
    if settings.verify == "judge":
        worst *= 2
    out = min(float(settings.max_tokens), typical_output or DEFAULT_OUTPUT)
    each = Usage(input_tokens=tokens_in, output_tokens=round(out))
    pricing = provider.pricing
    return Quote(
        samples=expected, worst_samples=worst,
        input_tokens=tokens_in * expected, output_tokens=round(out) * expected,
        thinking_tokens=0,
        expected_usd=pricing.cost(each) * expected,
        worst_usd=pricing.worst_case(request) * worst,
    )  # fmt: skip
