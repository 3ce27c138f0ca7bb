"""Helpers shared by the test modules (import them by name: `from helpers import eventually`).

Where things are (`REPO`, `DATA`, and `shared()` for the `../shared` folder beside the repo),
`eventually()` for waiting on another thread or process without sleeping a guessed time, and the
scripted fakes the engine and strategy tests draw samples from: a provider (`Scripted`) and a
reference verifier (`Expect`). pytest fixtures live in conftest.py, the HTTP stub server in
stub_server.py.

Must not: decide what a test asserts, or compare how long anything took.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from vaultttc.engine.sampling import CostMeter, Lane, Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verdict
from vaultttc.providers.base import Capabilities, Completion, Pricing, Request, Usage
from vaultttc.strategies import get_strategy

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"
NO_SHARED = "../shared not found beside the repo: clone the project next to its shared/ folder"


def shared(*parts: str) -> Path:
    """A path inside ../shared (benchmarks, corpora, seed notes); a clear failure without it."""
    if not SHARED.is_dir():
        pytest.fail(f"{NO_SHARED} (looked for {SHARED})", pytrace=False)
    return SHARED.joinpath(*parts)


# ---------------------------------------------------------------- an author's edit


def edit_after_first_read(monkeypatch: pytest.MonkeyPatch, path: Path, text: str) -> list[Any]:
    """The author saves `text` into `path` right after vaultttc's first read of a note (through
    `vault.files.read_note`), before its save; returns every read, for the test to count."""
    from vaultttc.vault import files

    real, reads = files.read_note, []

    def read_then_edit(*args: Any, **kwargs: Any) -> files.Loaded:
        loaded = real(*args, **kwargs)
        if not reads:
            path.write_text(text, encoding="utf-8")
        reads.append(loaded)
        return loaded

    monkeypatch.setattr(files, "read_note", read_then_edit)
    return reads


# ---------------------------------------------------------------- waiting


def eventually(
    predicate: Callable[[], T],
    what: str | Callable[[], str] = "",
    *,
    timeout: float = 120.0,
    interval: float = 0.05,
) -> T:
    """Poll `predicate` until it returns something true, and return that.

    `what` names the awaited state for the failure message; a function is called only then
    (to add, say, a child process's stderr). The timeout is only a backstop against a hang:
    generous, so a slow, shared CI machine never hits it; the test asserts what it waited
    for, never how long it took.
    """
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            described = (what() if callable(what) else what) or getattr(
                predicate, "__qualname__", repr(predicate)
            )
            pytest.fail(f"gave up after {timeout:g} s waiting for: {described}", pytrace=False)
        time.sleep(interval)
    return value


# ---------------------------------------------------------------- scripted fakes


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class Scripted:
    """A provider answering sample i with replies[i % len(replies)]; indices >= `hold_from`
    wait until cancelled. Every request is recorded; `thinking` is attached to every completion."""

    replies: Sequence[str]
    caps: Capabilities = field(default_factory=Capabilities)
    thinking: str = ""
    hold_from: int | None = None
    price: Pricing = field(default_factory=Pricing)
    requests: list[Request] = field(default_factory=list)
    cancelled: int = 0

    @property
    def name(self) -> str:
        return "scripted"

    @property
    def model(self) -> str:
        return "script-1"

    @property
    def capabilities(self) -> Capabilities:
        return self.caps

    @property
    def pricing(self) -> Pricing:
        return self.price

    def cache_identity(self) -> str:
        return "scripted"

    async def complete(self, request: Request) -> Completion:
        self.requests.append(request)
        if self.hold_from is not None and request.sample_index >= self.hold_from:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        text = self.replies[request.sample_index % len(self.replies)]
        usage = Usage(input_tokens=10, output_tokens=5)
        return Completion(
            text=text,
            model=self.model,
            provider=self.name,
            usage=usage,
            thinking=self.thinking,
            cost_usd=self.price.cost(usage),
        )

    async def aclose(self) -> None:
        return None


@dataclass
class Expect:
    """A reference verifier for unit tests: passes replies whose final line holds `right`."""

    right: str
    name: str = "exact"
    evidence: Any = "reference"
    strength: float = 0.99
    seen: list[str] = field(default_factory=list)

    async def verify(self, candidate: str, task: Task) -> Verdict:
        self.seen.append(candidate)
        ok = candidate.strip().splitlines()[-1].endswith(self.right)
        return Verdict(ok, float(ok), self.strength, self.evidence, f"checked {ok}")


QUESTION = Task(id="q1", question="What is 6 times 7?")


def sampler(provider: Scripted, n: int, *, cap_usd: float | None = None) -> Sampler:
    return Sampler(Lane(provider), max_samples=n, meter=CostMeter(cap_usd=cap_usd))


def ask(
    strategy: str,
    replies: Sequence[str],
    *,
    task: Task | None = None,
    verifier: Any = None,
    budget: int | None = None,
    provider: Scripted | None = None,
    **knobs: Any,
) -> tuple[Outcome, Scripted]:
    """Run one strategy on `task` (QUESTION by default) with samples from `Scripted(replies)`."""
    provider = provider or Scripted(replies)
    settings = Settings(strategy=strategy, **knobs)
    task = task or QUESTION
    draw = sampler(provider, budget if budget is not None else settings.samples)
    outcome = run(get_strategy(strategy).run(task, settings, sampler=draw, verifier=verifier))
    return outcome, provider
