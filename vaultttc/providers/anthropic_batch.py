"""Anthropic's Message Batches API for the `anthropic` provider: half price, within 24 hours.

`client.messages.batches.create(requests=[{"custom_id", "params"}])` takes up to 100,000
requests or 256 MB a batch (`LIMITS`; longer lists become several batches); `retrieve(id)`
reports `processing_status` (in_progress, canceling, ended) and `request_counts`; once ended,
`results(id)` streams the JSONL at `results_url`, one item a line, in no particular order:
`result.type` succeeded (a `Message`), errored, canceled or expired.

Each item's `params` are exactly what `AnthropicProvider.complete()` would stream (its
`params_for`, thinking and `cache_control` included), and a succeeded `Message` is read by the
same parser (`completion_of`) at the batch price, so a batch answers what a synchronous run
would. The SDK is reached through the provider's own client and error mapping; this module
does not import it and must not read the environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vaultttc.providers.anthropic import AnthropicProvider
from vaultttc.providers.base import Completion, Request
from vaultttc.providers.batch_api import (
    Failed,
    FailedKind,
    ItemResult,
    Progress,
    Submitted,
    Succeeded,
    split_items,
)
from vaultttc.providers.common import one_line
from vaultttc.providers.pricing import batch_pricing

__all__ = ["LIMITS", "AnthropicBatches"]

LIMITS = (100_000, 256 * 1024 * 1024)
_NOT_RUN: dict[str, FailedKind] = {"expired": "expired", "canceled": "canceled"}


class AnthropicBatches:
    """The Message Batches endpoints of one `AnthropicProvider`."""

    def __init__(self, provider: AnthropicProvider, *, limits: tuple[int, int] = LIMITS) -> None:
        self._provider = provider
        self._limits = limits
        self._pricing = batch_pricing(provider.pricing)

    @property
    def limits(self) -> tuple[int, int]:
        return self._limits

    async def submit(self, requests: Sequence[tuple[str, Request]]) -> list[Submitted]:
        items: list[dict[str, Any]] = [
            {"custom_id": custom_id, "params": (await self._provider.params_for(request))[0]}
            for custom_id, request in requests
        ]
        batches = self._provider.client.messages.batches
        submitted: list[Submitted] = []
        for chunk in split_items(items, limits=self._limits):

            async def create(chunk: list[dict[str, Any]] = chunk) -> Any:
                return await batches.create(requests=chunk)  # type: ignore[arg-type]

            batch = await self._provider.call(create)
            submitted.append(Submitted(str(batch.id), tuple(str(i["custom_id"]) for i in chunk)))
        return submitted

    async def poll(self, batch_id: str) -> Progress:
        batches = self._provider.client.messages.batches
        batch = await self._provider.call(lambda: batches.retrieve(batch_id))
        counts = batch.request_counts
        done = counts.succeeded + counts.errored + counts.canceled + counts.expired
        status = str(batch.processing_status)
        return Progress(batch_id, status == "ended", done, done + counts.processing, status)

    async def results(self, batch_id: str) -> dict[str, ItemResult]:
        batches = self._provider.client.messages.batches

        async def download() -> list[Any]:
            return [item async for item in await batches.results(batch_id)]

        found: dict[str, ItemResult] = {}
        for item in await self._provider.call(download):
            found[str(item.custom_id)] = _result(item.result)
        return found

    def completion(self, payload: Any, request: Request) -> Completion:
        return self._provider.completion_of(payload, request, pricing=self._pricing)


def _result(result: Any) -> ItemResult:
    kind = str(getattr(result, "type", ""))
    if kind == "succeeded":
        return Succeeded(result.message)
    if kind == "errored":
        error = getattr(getattr(result, "error", None), "error", None)
        return Failed("errored", one_line(str(getattr(error, "message", "") or error or "")))
    if kind in _NOT_RUN:
        return Failed(_NOT_RUN[kind])
    return Failed("errored", f"unknown result type {kind!r}")
