"""A provider in batch mode: answers from collected batch results, records what it cannot.

`BatchedProvider` wraps a real provider that has a batch API and stands in for it in a run's
lanes, so the normal plan → strategy → verify pipeline decides what to ask. For each request
(keyed by `custom_id`, the completion-cache key of provider and request) it:

* returns the collected result when a batch answered it (read by the provider's own parser,
  priced at the batch rate; the sampler then caches it like any fresh completion);
* for an item the batch did not answer (errored, expired, canceled): asks the real provider
  when `fallback` is on (`--batch-fallback`), else raises `ProviderError` (could not answer);
* raises `PendingInBatch` for a request still waiting in a submitted batch; and otherwise
* records the request (with the note it came from, `CURRENT_NOTE`) for the next batch and
  raises `PendingInBatch` — or, when this run only collects, raises `ProviderError`.

A recording `complete()` never awaits, so every sample a strategy draws up front is recorded
before the first refusal cancels the rest. No IO of its own beyond the wrapped provider's.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from vaultttc.errors import PendingInBatch, ProviderError
from vaultttc.providers.base import Capabilities, Completion, Pricing, Provider, Request
from vaultttc.providers.batch_api import BatchAPI, ItemResult, Succeeded
from vaultttc.providers.pricing import batch_pricing

__all__ = ["CURRENT_NOTE", "BatchedProvider", "Book", "Recorded", "batch_api_for", "batched"]

CURRENT_NOTE: ContextVar[str] = ContextVar("vaultttc_batch_note", default="")
Key = Callable[[Provider, Request], str]


@dataclass(frozen=True, slots=True)
class Recorded:
    """A request to send in the next batch, and the note that asked it."""

    custom_id: str
    request: Request
    note: str


@dataclass
class Book:
    """What the run knows about requests, by custom_id: collected results (with the batch
    they came from) and requests still waiting in a submitted batch."""

    results: dict[str, tuple[str, ItemResult]] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)  # custom_id -> batch id
    fallback: bool = False  # `--batch-fallback`: ask unanswered items synchronously
    submit: bool = True  # False: collect only, send nothing new


class BatchedProvider:
    """`inner` in batch mode (see the module docstring)."""

    def __init__(self, inner: Provider, api: BatchAPI, *, book: Book, key: Key) -> None:
        self.inner, self.api = inner, api
        self._book, self._key = book, key
        self.recorded: dict[str, Recorded] = {}

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    @property
    def pricing(self) -> Pricing:
        """The batch rate; the synchronous one when a request may fall back to a direct call
        (what budgets reserve and quotes show)."""
        return self.inner.pricing if self._book.fallback else batch_pricing(self.inner.pricing)

    def cache_identity(self) -> str:
        return self.inner.cache_identity()

    async def complete(self, request: Request) -> Completion:
        custom_id = self._key(self.inner, request)
        book = self._book
        if custom_id in book.results:
            batch_id, result = book.results[custom_id]
            if isinstance(result, Succeeded):
                return self.api.completion(result.payload, request)
            if book.fallback:
                return await self.inner.complete(request)
            raise ProviderError(
                f"{self.name} {self.model}: {result.describe(batch_id)} "
                "(--batch-fallback asks such requests synchronously)"
            )
        if custom_id in book.pending:
            raise PendingInBatch(f"waiting in {self.name} batch {book.pending[custom_id]}")
        if not book.submit:
            raise ProviderError(
                f"{self.name} {self.model}: this request is in no batch (the question changed "
                "since it was submitted?); `vaultttc run PATH --batch` submits it"
            )
        self.recorded.setdefault(custom_id, Recorded(custom_id, request, CURRENT_NOTE.get()))
        raise PendingInBatch(f"to be sent in a new {self.name} batch")

    async def aclose(self) -> None:
        await self.inner.aclose()


class _PreparedBatchedProvider(BatchedProvider):
    """For providers that learn their capabilities from the API (`prepare`): so does this."""

    async def prepare(self) -> None:
        await self.inner.prepare()  # type: ignore[attr-defined]


def batched(inner: Provider, api: BatchAPI, *, book: Book, key: Key) -> BatchedProvider:
    """`inner` in batch mode, with `prepare()` exactly when `inner` has one."""
    kind = (
        _PreparedBatchedProvider if callable(getattr(inner, "prepare", None)) else BatchedProvider
    )
    return kind(inner, api, book=book, key=key)


def batch_api_for(provider: Provider) -> BatchAPI | None:
    """The batch endpoints of `provider`, or None when it has none."""
    if provider.name == "anthropic":
        from vaultttc.providers.anthropic import AnthropicProvider
        from vaultttc.providers.anthropic_batch import AnthropicBatches

        return AnthropicBatches(provider) if isinstance(provider, AnthropicProvider) else None
    if provider.name == "openai":
        from vaultttc.providers.openai import OpenAIProvider
        from vaultttc.providers.openai_batch import OpenAIBatches

        return OpenAIBatches(provider) if isinstance(provider, OpenAIProvider) else None
    return None
