"""What a re-verification found: agreement, a replaced answer, or a model regression.

`outcome(job, answered)` compares a re-asked answer with the stored one (by the `ans=` digest
of its marker, or, for answers a reference checks, by both passing it); `row_text` is the
changelog row's words for a note's re-verifications; `regression_line` is the loud line the
CLI prints and `vaultttc status` repeats, kept in `.vaultttc/regressions.jsonl`. A regression:
the stored answer was `verified` by a reference (expected answer, tests or check) and the new
one fails it. Pure, apart from `record` and `load`, which append and read that file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from vaultttc.engine.runner import Job
from vaultttc.notes.compose import Answered
from vaultttc.notes.stamp import answer_digest, read_stamp
from vaultttc.vault.jsonl import append_rows, load_rows
from vaultttc.vault.stale import Stale

__all__ = [
    "REGRESSIONS_FILE",
    "Reverified",
    "load",
    "outcome",
    "record",
    "regression_line",
    "reverified",
    "row_text",
]

REGRESSIONS_FILE = "regressions.jsonl"
Found = Literal["agrees", "disagrees", "regression"]


@dataclass(frozen=True, slots=True)
class Reverified:
    note: str
    line: int
    question: str
    found: Found
    old_model: str
    new_model: str
    at: str = ""  # ISO date of the run that found it


def outcome(job: Job, answered: Answered, *, note: str, at: str = "") -> Reverified | None:
    """How the re-asked `job` went; None when it was not a re-verification or got no answer
    (an error or a spent budget is not a verdict: the stored answer stands)."""
    stale, new, region = job.stale, answered.outcome, job.question.answer
    if not isinstance(stale, Stale) or new is None or region is None:
        return None
    found: Found
    if stale.old_verdict == "verified" and new.status == "failed":
        found = "regression"
    elif read_stamp(region).ans == answer_digest(new) or (
        stale.old_verdict == new.status == "verified"
    ):
        found = "agrees"
    else:
        found = "disagrees"
    line = job.question.span.first_line
    return Reverified(note, line, job.question.id, found, stale.old_model, new.model, at)


def reverified(
    jobs: Sequence[Job],
    answered: Mapping[str, Answered],
    *,
    note: str,
    day: date,
) -> list[Reverified]:
    """What this note's re-verifications found (the caller records the regressions)."""
    at = day.isoformat()
    done = (outcome(job, answered[job.question.id], note=note, at=at) for job in jobs)
    return [f for f in done if f is not None]


def row_text(found: Sequence[Reverified]) -> str | None:
    """`vaultttc: re-verified 2 · 1 agrees · 1 answer replaced`; None without any."""
    if not found:
        return None
    agrees = sum(f.found == "agrees" for f in found)
    replaced = sum(f.found == "disagrees" for f in found)
    regressed = [f for f in found if f.found == "regression"]
    words = [f"vaultttc: re-verified {len(found)}"]
    words += [f"{agrees} agrees"] if agrees else []
    words += [f"{replaced} answer replaced"] if replaced else []
    words += [f"REGRESSION {f.question}: verified before ({f.old_model or 'unknown model'}), "
              f"fails its reference now ({f.new_model})" for f in regressed]  # fmt: skip
    return " · ".join(words)


def regression_line(found: Reverified) -> str:
    old = found.old_model or "an unknown model"
    return (
        f"REGRESSION {found.note}:{found.line} ({found.question}): the answer {old} gave was "
        f"verified by its reference; {found.new_model} now fails it"
    )


def record(path: Path, found: Sequence[Reverified]) -> None:
    append_rows(path, found)


def load(path: Path) -> list[Reverified]:
    return load_rows(path, Reverified)
