"""OpenAI's Batch API for the `openai` provider: the Responses API at half price, within 24 h.

A batch is a JSONL file of `{"custom_id", "method": "POST", "url": "/v1/responses", "body"}`
lines uploaded with `client.files.create(..., purpose="batch")` (at most 50,000 requests or
200 MB a file: `LIMITS`; longer lists become several batches), then
`client.batches.create(input_file_id=…, endpoint="/v1/responses", completion_window="24h")`.
`retrieve(id)` reports `status` (validating, in_progress, finalizing, then completed, failed,
expired or cancelled) and `request_counts`. Once ended, the output file (`output_file_id`)
holds one `{"custom_id", "response": {"status_code", "body"}}` a line for requests that ran,
and the error file (`error_file_id`) the rest: non-2xx replies, and `batch_expired` /
`batch_cancelled` errors for requests that never ran.

Each line's `body` is exactly what `OpenAIProvider.complete()` would send (`response_params`),
and a 200 body is read by the provider's own parser (`completion_of`) at the batch price. The
SDK is reached through the provider's client and error mapping; this module must not read the
environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

from vaultttc.errors import ProviderError
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
from vaultttc.providers.common import Malformed, one_line
from vaultttc.providers.openai import OpenAIProvider, response_params
from vaultttc.providers.pricing import batch_pricing

__all__ = ["ENDPOINT", "LIMITS", "OpenAIBatches"]

LIMITS = (50_000, 200 * 1024 * 1024)
ENDPOINT: Final = "/v1/responses"
_ENDED = ("completed", "failed", "expired", "cancelled")
_NOT_RUN: dict[str, FailedKind] = {"batch_expired": "expired", "batch_cancelled": "canceled"}


class OpenAIBatches:
    """The Batch API endpoints of one `OpenAIProvider`."""

    def __init__(self, provider: OpenAIProvider, *, limits: tuple[int, int] = LIMITS) -> None:
        self._provider = provider
        self._limits = limits
        self._pricing = batch_pricing(provider.pricing)

    @property
    def limits(self) -> tuple[int, int]:
        return self._limits

    async def submit(self, requests: Sequence[tuple[str, Request]]) -> list[Submitted]:
        model = self._provider.model
        lines = [
            {"custom_id": custom_id, "method": "POST", "url": ENDPOINT,
             "body": response_params(request, model=model)}
            for custom_id, request in requests
        ]  # fmt: skip
        submitted: list[Submitted] = []
        for chunk in split_items(lines, limits=self._limits):
            batch_id = await self._create(_jsonl(chunk))
            submitted.append(Submitted(batch_id, tuple(str(line["custom_id"]) for line in chunk)))
        return submitted

    async def _create(self, data: bytes) -> str:
        client = self._provider.client

        async def upload() -> Any:
            return await client.files.create(
                file=("vaultttc-batch.jsonl", data, "application/jsonl"), purpose="batch"
            )

        uploaded = await self._provider.call(upload)

        async def create() -> Any:
            return await client.batches.create(
                input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"
            )

        return str((await self._provider.call(create)).id)

    async def poll(self, batch_id: str) -> Progress:
        batch = await self._retrieve(batch_id)
        counts = batch.request_counts
        done = (counts.completed + counts.failed) if counts is not None else 0
        total = counts.total if counts is not None else 0
        return Progress(batch_id, batch.status in _ENDED, done, total, str(batch.status))

    async def results(self, batch_id: str) -> dict[str, ItemResult]:
        batch = await self._retrieve(batch_id)
        found: dict[str, ItemResult] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                for line in await self._lines(str(file_id)):
                    found[str(line.get("custom_id"))] = _result(line)
        return found

    def completion(self, payload: Any, request: Request) -> Completion:
        try:
            response = self._provider.response_from_json(payload)
            return self._provider.completion_of(response, request, pricing=self._pricing)
        except Malformed as exc:
            raise ProviderError(f"openai {self._provider.model}: batch item: {exc}") from exc

    async def _retrieve(self, batch_id: str) -> Any:
        batches = self._provider.client.batches
        return await self._provider.call(lambda: batches.retrieve(batch_id))

    async def _lines(self, file_id: str) -> list[dict[str, Any]]:
        files = self._provider.client.files

        async def download() -> list[dict[str, Any]]:
            content = await files.content(file_id)
            return [json.loads(line) for line in content.text.splitlines() if line.strip()]

        return await self._provider.call(download)


def _result(line: dict[str, Any]) -> ItemResult:
    response = line.get("response") or {}
    if response.get("status_code") == 200 and isinstance(response.get("body"), dict):
        return Succeeded(response["body"])
    error = line.get("error") or (response.get("body") or {}).get("error") or {}
    code = str(error.get("code") or "")
    detail = one_line(str(error.get("message") or code or f"HTTP {response.get('status_code')}"))
    if code in _NOT_RUN:
        return Failed(_NOT_RUN[code], detail)
    status = response.get("status_code")
    return Failed("errored", f"HTTP {status}: {detail}" if status else detail)


def _jsonl(lines: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(
        json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        for line in lines
    )
