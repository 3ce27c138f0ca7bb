"""The vault's calibration state: labelled outcomes in `.vaultttc/calibration.jsonl`.

One JSON line per labelled outcome (`engine.calibration.Labelled`): provider, model, task kind,
evidence kind, raw evidence, label, and the key of the question and settings that produced it
(a re-asked question's newer line wins when the file is read). Lines are only ever appended, in
one write each, so a daemon and a command-line run can share the file; a store re-reads what
others appended before it settles a run. A line it cannot read is skipped, never fatal.

`settle` is the one place a run's outcomes meet the vault's calibration: labelled ones are
recorded, unchecked ones (and code checked only by its stub's examples) get their confidence
from the vault's map (`Book`), which is the shipped prior until there are enough outcomes.
Must not: decide what counts as enough, or fit anything itself (both are
`engine.calibration`'s).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from vaultttc.engine.calibration import Book, Fitting, Labelled
from vaultttc.engine.runner import Job
from vaultttc.engine.tasks import Outcome
from vaultttc.notes.compose import Answered

__all__ = ["STORE_FILE", "CalibrationStore", "labelled_outcome", "parse_line"]

STORE_FILE = "calibration.jsonl"
log = logging.getLogger(__name__)


def parse_line(line: str) -> Labelled | None:
    """One stored outcome, or None for a line that is not one."""
    try:
        row: Any = json.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("label"), bool):
            return None
        return Labelled(
            provider=str(row["provider"]), model=str(row["model"]), task=str(row["task"]),
            kind=str(row["kind"]), raw=float(row["raw"]), label=row["label"],
            key=str(row.get("key", "")),
        )  # fmt: skip
    except (ValueError, TypeError, KeyError):
        return None


def labelled_outcome(outcome: Outcome, *, key: str) -> Labelled | None:
    """The labelled example an outcome is, if a verifier judged its evidence."""
    signal = outcome.signal
    if signal is None or signal.label is None:
        return None
    return Labelled(
        outcome.provider, outcome.model, signal.task, signal.kind, signal.raw, signal.label, key
    )


class CalibrationStore:
    """The labelled outcomes of one vault and the book of maps fitted on them."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._outcomes: list[Labelled] = []
        self._offset = 0
        self._fitting = Fitting()
        self._refresh()

    @property
    def path(self) -> Path:
        return self._path

    def outcomes(self) -> list[Labelled]:
        self._refresh()
        return list(self._outcomes)

    def book(self) -> Book:
        self._refresh()
        return self._fitting.book

    def record(self, outcomes: Sequence[Labelled]) -> None:
        """Append outcomes to the file (one write), then read back what is new in it (ours,
        and whatever another writer appended meanwhile). Not fsynced: a crash can lose only
        the last lines of a log the fit reads, and a sync here was one more disk wait per
        saved note."""
        if not outcomes:
            return
        text = "".join(json.dumps(asdict(o), ensure_ascii=False) + "\n" for o in outcomes)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as handle:
            handle.write(text)
        self._refresh()

    def settle(
        self, jobs: Iterable[Job], answered: Mapping[str, Answered], *, record: bool = True
    ) -> dict[str, Answered]:
        """Record the run's labelled outcomes; calibrate its unchecked ones with the vault's map."""
        fresh: list[Labelled] = []
        for job in jobs:
            done = answered.get(job.question.id)
            outcome = done.outcome if done is not None else None
            if outcome is None:
                continue
            found = labelled_outcome(outcome, key=f"{job.question.id}:{job.hash}")
            if found is not None:
                fresh.append(found)
        if record:
            self.record(fresh)
        book = self.book()
        return {qid: _calibrated(done, book) for qid, done in answered.items()}

    def _refresh(self) -> None:
        try:
            with self._path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read %s: %s", self._path, exc.strerror)
            return
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
        if not complete:
            return
        self._offset += len(complete)
        lines = complete.decode("utf-8", "replace").split("\n")  # not splitlines: U+0085
        found = [o for o in map(parse_line, lines) if o is not None]
        if len(found) < len([x for x in lines if x.strip()]):
            log.warning("%s: skipped lines that are not labelled outcomes", self._path)
        self._outcomes.extend(found)
        self._fitting.add(found)


def _calibrated(done: Answered, book: Book) -> Answered:
    outcome = done.outcome
    if outcome is None or outcome.signal is None or outcome.signal.label is not None:
        return done
    examples = outcome.signal.kind == "examples"  # its map learned from passes and failures
    if not examples and (outcome.evidence not in ("vote", "none") or outcome.status == "failed"):
        return done  # checked, a judge's grade, or a program that does not run: not a map's
    value = book.confidence(outcome.provider, outcome.model, outcome.signal)
    return replace(done, outcome=replace(outcome, confidence=round(value, 4)))
