"""What a provider's batch API looks like to vaultttc: the values and the `BatchAPI` protocol.

Anthropic's Message Batches and OpenAI's Batch API both take many requests at half the price,
finish within 24 hours and return results unordered, matched by `custom_id`. Here they share
one shape: `submit` (split at the API's size limits by `split_items`), `poll`, `results` (raw
per-item outcomes, downloaded once a batch has ended) and `completion` (one succeeded item read
as the `Completion` a synchronous call would have returned, priced at the batch rate). Values
and pure functions only: no SDK is imported here and nothing here does IO.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from vaultttc.providers.base import Completion, Request

__all__ = [
    "BatchAPI",
    "Failed",
    "FailedKind",
    "ItemResult",
    "Progress",
    "Submitted",
    "Succeeded",
    "counts_of",
    "json_size",
    "split_items",
]

T = TypeVar("T")
FailedKind = Literal["errored", "expired", "canceled"]


@dataclass(frozen=True, slots=True)
class Submitted:
    """One batch the API accepted: its id and the custom_ids it holds, in order."""

    id: str
    custom_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Progress:
    """A poll: whether the batch has ended, and how many of its requests are done."""

    id: str
    ended: bool
    done: int
    total: int
    status: str  # the API's own word: in_progress, ended, validating, completed, expired, …


@dataclass(frozen=True, slots=True)
class Succeeded:
    """A succeeded item: the API's own reply object (read by `BatchAPI.completion`)."""

    payload: Any


@dataclass(frozen=True, slots=True)
class Failed:
    """An item the batch did not answer: errored, expired (the 24 h window) or canceled."""

    kind: FailedKind
    detail: str = ""

    def describe(self, batch_id: str) -> str:
        said = f": {self.detail}" if self.detail else ""
        return f"batch {batch_id}: the request {self.kind}{said}"


ItemResult = Succeeded | Failed


class BatchAPI(Protocol):
    """One provider's batch endpoints. `requests` pair each custom_id with its `Request`."""

    @property
    def limits(self) -> tuple[int, int]:
        """The most requests and bytes one batch may hold."""
        ...

    async def submit(self, requests: Sequence[tuple[str, Request]]) -> list[Submitted]: ...

    async def poll(self, batch_id: str) -> Progress: ...

    async def results(self, batch_id: str) -> dict[str, ItemResult]: ...

    def completion(self, payload: Any, request: Request) -> Completion: ...


def json_size(item: object) -> int:
    """The bytes `item` takes as compact JSON (what a batch file or body carries)."""
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) + 1


def split_items(
    items: Sequence[T], *, limits: tuple[int, int], size: Callable[[T], int] = json_size
) -> Iterator[list[T]]:
    """`items` in order, cut into runs of at most `limits` (count, bytes); the byte limit
    keeps 1% spare for the envelope around the items. An item larger than a whole batch is
    a batch of its own (the API then refuses it with its own message)."""
    most, max_bytes = limits
    budget = int(max_bytes * 0.99)
    chunk: list[T] = []
    used = 0
    for item in items:
        cost = size(item)
        if chunk and (len(chunk) >= most or used + cost > budget):
            yield chunk
            chunk, used = [], 0
        chunk.append(item)
        used += cost
    if chunk:
        yield chunk


def counts_of(results: Mapping[str, ItemResult]) -> dict[str, int]:
    """How many items succeeded, errored, expired and were canceled."""
    counts = {"succeeded": 0, "errored": 0, "expired": 0, "canceled": 0}
    for result in results.values():
        counts["succeeded" if isinstance(result, Succeeded) else result.kind] += 1
    return counts
