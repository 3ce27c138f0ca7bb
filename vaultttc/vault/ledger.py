"""The spend ledger: `.vaultttc/spend.jsonl`, one line per answered question, per day and model.

Every run (the CLI's and the daemon's) appends what each question cost: date, provider,
model, USD, tokens and samples. The daemon's daily budget reads today's total from it, the
quote reads a model's typical output length from it, and `vaultttc spend` summarises it.
Appends are one `write` of whole lines; a torn last line is skipped when read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from vaultttc.vault.jsonl import append_rows, load_rows

__all__ = ["LEDGER_FILE", "Spend", "append", "load", "mean_output", "spent_since", "summary"]

LEDGER_FILE = "spend.jsonl"


@dataclass(frozen=True, slots=True)
class Spend:
    day: str  # ISO date
    provider: str
    model: str
    usd: float
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    samples: int = 0
    cached: bool = False


def append(path: Path, entries: Iterable[Spend]) -> None:
    append_rows(path, entries)


def load(path: Path) -> list[Spend]:
    return load_rows(path, Spend)


def spent_since(entries: Sequence[Spend], since: date) -> float:
    first = since.isoformat()
    return sum(e.usd for e in entries if e.day >= first)


def mean_output(entries: Sequence[Spend], *, provider: str, model: str) -> float | None:
    """Mean output + thinking tokens per drawn sample of this model in this vault, if known."""
    seen = [e for e in entries if e.provider == provider and e.model == model and e.samples]
    samples = sum(e.samples for e in seen)
    if samples == 0:
        return None
    return sum(e.output_tokens + e.thinking_tokens for e in seen) / samples


def summary(entries: Sequence[Spend], today: date) -> list[dict[str, Any]]:
    """Per provider/model: USD today, in the last 7 and 30 days, and requests in 30 days."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    windows = (("today", today), ("7 days", today - timedelta(days=6)),
               ("30 days", today - timedelta(days=29)))  # fmt: skip
    for e in entries:
        row = rows.setdefault((e.provider, e.model), {"provider": e.provider, "model": e.model,
                              **{name: 0.0 for name, _ in windows}, "questions": 0})  # fmt: skip
        for name, first in windows:
            if e.day >= first.isoformat():
                row[name] = round(row[name] + e.usd, 6)
        if e.day >= windows[2][1].isoformat():
            row["questions"] += 1
    return sorted(rows.values(), key=lambda r: (str(r["provider"]), str(r["model"])))
