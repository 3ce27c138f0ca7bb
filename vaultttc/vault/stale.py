"""Which stored answers are stale, and how stale: the pure core of re-verification.

An answer is stale when it is older than the age (`--stale-after 30d`, the daemon's
`reverify_after`), when a model other than the one configured now gave it, or when its note's
`last_reinforced` is older than the age and the answer itself carries no newer date. An
answer's date is its begin marker's `at=`; a region written before markers carried one is
dated by the note's `last_reinforced`, and without that it is of unknown age: the stalest of
all. Re-verification goes stalest first, so a budget spends itself on the oldest answers and
the next run continues with the rest. The clock is a parameter; nothing here reads files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from vaultttc.engine.tasks import Settings
from vaultttc.errors import ConfigError
from vaultttc.notes.model import Note, Question
from vaultttc.notes.stamp import read_stamp

__all__ = [
    "Stale",
    "StalePolicy",
    "answer_date",
    "last_reinforced",
    "parse_age",
    "reasker",
    "stale_answer",
    "stale_examples",
    "stalest_first",
]

_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str, *, where: str = "--stale-after") -> timedelta:
    """`30d`, `12h`, `2w`, `90m` as a timedelta; anything else is a one-line ConfigError."""
    match = _AGE_RE.match(str(text))
    if match is None or float(match.group(1)) <= 0:
        prefix = f"{where}: " if where else ""
        raise ConfigError(
            f"{prefix}{text!r} is not an age; write a positive number and a unit: "
            "90m, 12h, 30d or 2w"
        )
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


@dataclass(frozen=True, slots=True)
class StalePolicy:
    """Re-verify what is older than `after`, as of `now` (aware, UTC)."""

    after: timedelta
    now: datetime


@dataclass(frozen=True, slots=True)
class Stale:
    """Why one stored answer is re-asked. `age_s` orders them (inf: of unknown age)."""

    age_s: float
    reason: str
    old_model: str
    old_verdict: str | None


def last_reinforced(note: Note) -> datetime | None:
    """The note's `last_reinforced` as midnight UTC of that day; None when absent or unreadable."""
    value = note.frontmatter.data.get("last_reinforced") if note.frontmatter else None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    if isinstance(value, str):
        try:
            return datetime.combine(date.fromisoformat(value.strip()), time(), UTC)
        except ValueError:
            return None
    return None


def answer_date(note: Note, question: Question) -> datetime | None:
    """When the question's stored answer was given, as well as the note says."""
    if question.answer is None:
        return None
    return read_stamp(question.answer).at or last_reinforced(note)


def stale_answer(
    note: Note, question: Question, *, model: str, policy: StalePolicy
) -> Stale | None:
    """Why `question`'s stored answer should be asked again now, or None while it is fresh.

    `model` is the model the question would be asked with now."""
    if question.answer is None:
        return None
    stamp = read_stamp(question.answer)
    when = answer_date(note, question)
    age_s = math.inf if when is None else (policy.now - when).total_seconds()
    verdict = question.answer.verdict
    if when is None:
        return Stale(age_s, "answer of unknown age", stamp.by, verdict)
    if stamp.by and model and stamp.by != model:
        return Stale(age_s, f"answered by {stamp.by}, configured now: {model}", stamp.by, verdict)
    if age_s > policy.after.total_seconds():
        return Stale(age_s, f"answered {_days(age_s)} ago", stamp.by, verdict)
    return None


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.0f} days" if days >= 2 else f"{seconds / 3600:.0f} hours"


def stale_examples(note: Note, policy: StalePolicy) -> Stale | None:
    """A living-doc note (one with examples) is re-tested when its `last_reinforced` is older
    than the age, or absent."""
    if not note.examples:
        return None
    when = last_reinforced(note)
    age_s = math.inf if when is None else (policy.now - when).total_seconds()
    if age_s <= policy.after.total_seconds():
        return None
    reason = "never reinforced" if when is None else f"reinforced {_days(age_s)} ago"
    return Stale(age_s, reason, "", None)


def reasker(policy: StalePolicy) -> Callable[[Note, Question, Settings], Stale | None]:
    """`RunOptions.reask` for `policy`: a question's stale answer, given the model it would be
    asked with now."""

    def reask(note: Note, question: Question, settings: Settings) -> Stale | None:
        return stale_answer(note, question, model=settings.model or "", policy=policy)

    return reask


def stalest_first(ages: Iterable[float | None]) -> float:
    """A note's place in a re-verification run: its stalest re-asked answer (None: a job that
    is asked because it changed, which goes first: the author is waiting for it)."""
    return max((math.inf if a is None else a for a in ages), default=0.0)
