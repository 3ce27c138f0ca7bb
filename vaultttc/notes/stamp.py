"""When, by which model, what and how: the `at=`, `by=`, `ans=` and `via=` (strategy/samples)
words of an answer's begin marker.

`stamp(outcome, at)` is what compose writes for a fresh answer; `read_stamp(region)` reads it
back for re-verification (vault.stale: how old an answer is and which model gave it;
vault.reverify: whether a new answer agrees with the stored one). `ans=` is a digest of the
normalised final answer, so agreement is decided without reading the rendered callout (whose
template the vault may have changed). Pure.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from vaultttc.engine.tasks import Outcome
from vaultttc.notes.model import AnswerRegion

__all__ = ["Stamp", "answer_digest", "format_at", "parse_at", "read_stamp", "stamp"]

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Stamp:
    """A stored answer's `at` (UTC; None in regions written before markers carried it),
    `by` (the model id) and `ans` (the answer's digest)."""

    at: datetime | None
    by: str
    ans: str
    strategy: str = ""
    samples: int = 0


def answer_digest(outcome: Outcome) -> str:
    """Ten hex digits of the final answer (the program, for a code task), case and spacing
    normalised: "24" and " 24 " agree, "24" and "25" do not."""
    text = _SPACE.sub(" ", (outcome.code or outcome.answer).strip()).casefold()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def format_at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def parse_at(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stamp(outcome: Outcome, at: datetime) -> tuple[tuple[str, str], ...]:
    return (
        ("at", format_at(at)),
        ("by", quote(outcome.model, safe="")),
        ("ans", answer_digest(outcome)),
        ("via", quote(f"{outcome.strategy}/{outcome.samples_used}", safe="")),
    )


def read_stamp(region: AnswerRegion) -> Stamp:
    strategy, _, samples = unquote(region.attr("via") or "").partition("/")
    return Stamp(
        at=parse_at(region.attr("at")),
        by=unquote(region.attr("by") or ""),
        ans=region.attr("ans") or "",
        strategy=strategy,
        samples=int(samples) if samples.isdigit() else 0,
    )
