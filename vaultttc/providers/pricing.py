"""Prices in USD per million tokens, and how a model id finds its price.

The built-in table holds list prices of current Anthropic and OpenAI models (standard tier,
short prompts; checked against the vendors' pricing pages in late 2026 — verify before you
bill). A vault extends or corrects it in `.vaultttc/config.toml`:

    [prices."claude-sonnet-5-5"]
    input = 2.0
    output = 10.0
    cache_read = 0.1      # optional
    cache_write = 2.5     # optional

A model found in neither is priced at its vendor's most expensive row, so a cost cap errs on
the safe side; `local`, `replay` and self-hosted servers cost nothing unless configured.
Requests sent through a batch API (Anthropic Message Batches, OpenAI Batch) bill every token
kind at `BATCH_DISCOUNT` of these rates (`batch_pricing`).
Pure lookups; nothing here does IO.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from vaultttc.errors import ConfigError
from vaultttc.providers.base import Pricing

__all__ = [
    "BATCH_DISCOUNT",
    "FREE",
    "PRICES",
    "batch_pricing",
    "parse_price_overrides",
    "price_for",
]

FREE = Pricing()
BATCH_DISCOUNT = 0.5  # both vendors: half the synchronous price, cache reads and writes too


def batch_pricing(pricing: Pricing) -> Pricing:
    """`pricing` at the batch APIs' rate."""
    return Pricing(
        input=pricing.input * BATCH_DISCOUNT,
        output=pricing.output * BATCH_DISCOUNT,
        cache_read=pricing.cache_read * BATCH_DISCOUNT,
        cache_write=pricing.cache_write * BATCH_DISCOUNT,
    )


def _p(inp: float, out: float, read: float, *, write: float | None = None) -> Pricing:
    return Pricing(
        input=inp, output=out, cache_read=read, cache_write=inp * 1.25 if write is None else write
    )


PRICES: Mapping[str, Pricing] = {
    # Anthropic (5-minute cache writes at 1.25x input)
    "claude-fable-5-1": _p(10.0, 50.0, 0.25),
    "claude-mythos-5-1": _p(10.0, 50.0, 0.25),
    "claude-fable-5": _p(10.0, 50.0, 1.0),
    "claude-mythos-5": _p(10.0, 50.0, 1.0),
    "claude-opus-5-5": _p(4.0, 20.0, 0.20),
    "claude-opus-5": _p(5.0, 25.0, 0.50),
    "claude-opus-4-8": _p(5.0, 25.0, 0.50),
    "claude-opus-4-7": _p(5.0, 25.0, 0.50),
    "claude-opus-4-6": _p(5.0, 25.0, 0.50),
    "claude-opus-4-5": _p(5.0, 25.0, 0.50),
    "claude-sonnet-5-5": _p(2.0, 10.0, 0.10),
    "claude-sonnet-5": _p(2.0, 10.0, 0.20),
    "claude-sonnet-4-6": _p(3.0, 15.0, 0.30),
    "claude-sonnet-4-5": _p(3.0, 15.0, 0.30),
    "claude-haiku-5-5": _p(0.10, 0.50, 0.01),
    "claude-haiku-4-5": _p(1.0, 5.0, 0.10),
    # OpenAI (input includes cached tokens; vaultttc bills cached ones at the cached rate)
    "gpt-6.1-sol": _p(2.0, 10.0, 0.10, write=2.50),
    "gpt-6-sol": _p(2.0, 10.0, 0.20, write=2.50),
    "gpt-6-luna": _p(0.10, 0.50, 0.01, write=0.125),
    "gpt-5.6-sol": _p(5.0, 30.0, 0.50),
    "gpt-5.6-terra": _p(2.50, 15.0, 0.25),
    "gpt-5.6-luna": _p(1.0, 6.0, 0.10),
    "gpt-5.5": _p(5.0, 30.0, 0.50),
    "gpt-5.4": _p(2.50, 15.0, 0.25),
    "gpt-5.4-mini": _p(0.75, 4.50, 0.075),
    "gpt-5": _p(1.25, 10.0, 0.125),
    "gpt-5-mini": _p(0.25, 2.0, 0.025),
    "gpt-5-nano": _p(0.05, 0.40, 0.005),
}

_VENDOR_PREFIX = {"anthropic": "claude-", "openai": "gpt-"}
_FREE_PROVIDERS = ("local", "replay", "openai-compatible")
_DATE_SUFFIX = re.compile(r"(-\d{8}|-\d{4}-\d{2}-\d{2})$")


def _vendor_ceiling(provider: str) -> Pricing:
    prefix = _VENDOR_PREFIX.get(provider, "")
    rows = [p for m, p in PRICES.items() if m.startswith(prefix)] or list(PRICES.values())
    return max(rows, key=lambda p: (p.output, p.input))


def _lookup(model: str, table: Mapping[str, Pricing]) -> Pricing | None:
    if model in table:
        return table[model]
    base = _DATE_SUFFIX.sub("", model)
    return table.get(base)


def price_for(provider: str, model: str, overrides: Mapping[str, Pricing] | None = None) -> Pricing:
    """The price of `model` served by `provider` (a provider name without `:PATH`)."""
    found = _lookup(model, overrides or {})
    if found is not None:
        return found
    if provider.split(":", 1)[0] in _FREE_PROVIDERS:
        return FREE
    return _lookup(model, PRICES) or _vendor_ceiling(provider)


def parse_price_overrides(config: Mapping[str, object]) -> dict[str, Pricing]:
    """The `[prices."model"]` tables of a parsed config.toml, validated."""
    raw = config.get("prices") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("[prices] must be a table of models")
    out: dict[str, Pricing] = {}
    for model, row in raw.items():
        if not isinstance(row, Mapping) or "input" not in row or "output" not in row:
            raise ConfigError(f'[prices."{model}"] needs input and output (USD per Mtok)')
        try:
            values = {
                k: float(row[k])
                for k in ("input", "output", "cache_read", "cache_write")
                if k in row
            }
        except (TypeError, ValueError) as exc:
            raise ConfigError(f'[prices."{model}"]: prices must be numbers') from exc
        if any(v < 0 for v in values.values()):
            raise ConfigError(f'[prices."{model}"]: prices cannot be negative')
        values.setdefault("cache_read", values["input"])
        values.setdefault("cache_write", values["input"])
        out[str(model)] = Pricing(**values)
    return out
