"""The `replay:PATH` provider: recorded samples played back, for reproducible runs and benchmarks.

The file is JSONL, one question a line: `{"question": "...", "samples": [...]}`. A sample is a
string or `{"text": ..., "thinking": ..., "usage": {...}, "confidence": ...}`; a line may instead
carry `"usage"` as a list parallel to `samples`, and likewise `"confidences"`: each sample's
trace confidence (a number, or null for none), played back as `Completion.trace_confidence` so
that recorded pools vote weighted as live ones would. Other keys (`problem_id`, `gold`) are
ignored.

A request whose prompt (with its messages; whitespace-normalised) contains a recorded question
gets that question's samples; when several recorded questions occur in it, the longest wins.
Without a `prefix`, sample index i gets sample i, whatever order concurrent samples finish in,
and an index past the end is a clear error. With a `prefix` (beam search, MCTS), the answer is
the rest of the first recorded sample that starts with the prefix, looking from index i onward
and cycling; if none does, sample i (cycling) is returned whole. Every other request parameter
is accepted and ignored. Lookup uses an index of 12-character anchors, so it costs one pass
over the prompt whatever the number of recorded questions, and repeated prompts are memoised.
It never calls a model and never invents a sample.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultttc.engine.trace import TOP_K
from vaultttc.errors import ConfigError, ProviderError
from vaultttc.providers.base import Capabilities, Completion, Pricing, Request, Usage

__all__ = ["Recorded", "ReplayProvider", "load_replay", "normalise"]

ANCHOR = 12
_SPACE = re.compile(r"\s+")
_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
)


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded sample."""

    text: str
    thinking: str = ""
    usage: Usage = field(default_factory=Usage)
    confidence: float | None = None


def _usage(raw: object, where: str) -> Usage:
    if raw is None:
        return Usage()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: usage must be an object")
    return Usage(**{k: int(raw.get(k, 0)) for k in _USAGE_KEYS})


def _confidence(raw: object, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{where}: a confidence must be a number or null")
    return float(raw)


def _sample(raw: object, usage: object, confidence: object, *, where: str) -> Recorded:
    if isinstance(raw, str):
        return Recorded(raw, usage=_usage(usage, where), confidence=_confidence(confidence, where))
    if isinstance(raw, Mapping) and isinstance(raw.get("text"), str):
        return Recorded(
            raw["text"],
            str(raw.get("thinking", "")),
            _usage(raw.get("usage", usage), where),
            _confidence(raw.get("confidence", confidence), where),
        )
    raise ConfigError(f"{where}: a sample must be a string or an object with 'text'")


def _parallel(row: dict[str, Any], key: str, n: int, *, where: str) -> list[Any]:
    value = row.get(key)
    if key == "confidences" and value is not None and not isinstance(value, list):
        raise ConfigError(f"{where}: 'confidences' must be a list")
    values = value if isinstance(value, list) else [value] * n
    if len(values) != n:
        raise ConfigError(f"{where}: '{key}' must have one entry per sample")
    return values


def _line(row: Any, where: str) -> tuple[str, tuple[Recorded, ...]]:
    if not isinstance(row, dict) or not isinstance(row.get("question"), str):
        raise ConfigError(f"{where}: expected an object with 'question' and 'samples'")
    samples = row.get("samples")
    if not isinstance(samples, list) or not samples:
        raise ConfigError(f"{where}: 'samples' must be a non-empty list")
    usages = _parallel(row, "usage", len(samples), where=where)
    confidences = _parallel(row, "confidences", len(samples), where=where)
    return normalise(row["question"]), tuple(
        _sample(s, u, c, where=f"{where} sample {i}")
        for i, (s, u, c) in enumerate(zip(samples, usages, confidences, strict=True))
    )


def load_replay(path: Path) -> dict[str, tuple[Recorded, ...]]:
    """Recorded samples by normalised question. Raises `ConfigError` naming the bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"replay: cannot read {path}: {exc.strerror}") from exc
    table: dict[str, tuple[Recorded, ...]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not JSON: {exc.msg}") from exc
        question, samples = _line(row, f"{path}:{number}")
        table[question] = samples
    return table


class _Index:
    """Finds the longest recorded question contained in a text in one pass over the text."""

    def __init__(self, questions: list[str]) -> None:
        self._anchors: dict[str, list[str]] = {}
        self._short = [q for q in questions if len(q) < ANCHOR]
        for q in questions:
            if len(q) >= ANCHOR:
                self._anchors.setdefault(q[:ANCHOR], []).append(q)
        self._memo: dict[str, str | None] = {}

    def find(self, text: str) -> str | None:
        if text in self._memo:
            return self._memo[text]
        found = [q for q in self._short if q in text]
        anchors = self._anchors
        for i in range(len(text) - ANCHOR + 1):
            for q in anchors.get(text[i : i + ANCHOR], ()):
                if text.startswith(q, i):
                    found.append(q)
        best = max(found, key=len) if found else None
        if len(self._memo) > 4096:
            self._memo.clear()
        self._memo[text] = best
        return best


def _pick(samples: tuple[Recorded, ...], request: Request) -> Recorded:
    i = request.sample_index
    if not request.prefix:
        return samples[i]
    n = len(samples)
    for k in range(n):
        sample = samples[(i + k) % n]
        if sample.text.startswith(request.prefix):
            return Recorded(
                sample.text[len(request.prefix) :], sample.thinking, sample.usage, sample.confidence
            )
    return samples[i % n]


class ReplayProvider:
    """Plays back a JSONL file of recorded samples. Free, instant, deterministic."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._table = load_replay(path)
        self._index = _Index(list(self._table))
        self._confident = any(r.confidence is not None for rs in self._table.values() for r in rs)
        self._digest = hashlib.sha256(path.read_bytes()).hexdigest()

    @property
    def name(self) -> str:
        return f"replay:{self._path}"

    @property
    def model(self) -> str:
        return f"replay-{self._path.stem}"

    @property
    def pricing(self) -> Pricing:
        return Pricing()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            chat=True,
            thinking=True,
            efforts=("low", "medium", "high"),
            prefill=True,
            max_concurrency=64,
            logprobs=TOP_K if self._confident else 0,  # recorded trace confidences, not tokens
        )

    def cache_identity(self) -> str:
        return f"replay sha256={self._digest}"

    def lookup(self, request: Request) -> tuple[str, tuple[Recorded, ...]]:
        text = normalise(" ".join([*(m.content for m in request.messages), request.prompt]))
        question = self._index.find(text)
        if question is None:
            raise ProviderError(
                f"replay {self._path.name}: no recorded question occurs in the prompt {text[:80]!r}"
            )
        return question, self._table[question]

    async def complete(self, request: Request) -> Completion:
        question, samples = self.lookup(request)
        if request.sample_index < 0 or (
            not request.prefix and request.sample_index >= len(samples)
        ):
            raise ProviderError(
                f"replay {self._path.name}: sample {request.sample_index} requested but only "
                f"{len(samples)} are recorded for {question[:60]!r}"
            )
        sample = _pick(samples, request)
        return Completion(
            text=sample.text,
            thinking=sample.thinking,
            model=self.model,
            provider=self.name,
            usage=sample.usage,
            cost_usd=0.0,
            latency_s=0.0,
            finish_reason="stop",
            sample_index=request.sample_index,
            trace_confidence=sample.confidence,
        )

    async def aclose(self) -> None:
        return None
