"""Append-only JSON-lines files of dataclass rows (`.vaultttc/spend.jsonl`,
`.vaultttc/regressions.jsonl`): each append is one `write` of whole lines, and a torn or
foreign line is skipped when read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["append_rows", "load_rows"]

T = TypeVar("T")


def append_rows(path: Path, rows: Iterable[Any]) -> None:
    """Append dataclass `rows`, one compact JSON object per line; nothing when there are none."""
    lines = "".join(json.dumps(asdict(r), separators=(",", ":"), ensure_ascii=False) + "\n"
                    for r in rows)  # fmt: skip
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(lines)


def load_rows(path: Path, make: Callable[..., T]) -> list[T]:
    """Every line `make(**row)` accepts; a missing file is no rows."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    out: list[T] = []
    for line in text.splitlines():
        try:
            out.append(make(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return out
