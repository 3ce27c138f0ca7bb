"""What a batch run reports: the run's own report, plus the batches it submitted, collected and
left waiting — as values and as `run --batch --json`'s document.

`merge_reports` folds the rounds of one `--wait` run into one report (a question's last round
wins; a note changed if any round changed it). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from vaultttc.engine.report import NoteReport, QuestionReport, RunReport
from vaultttc.providers.batch_api import Progress
from vaultttc.vault.batches import BatchRecord

__all__ = ["BatchRunReport", "merge_reports"]


@dataclass(frozen=True, slots=True)
class BatchRunReport:
    run: RunReport
    submitted: tuple[BatchRecord, ...] = ()
    collected: tuple[tuple[BatchRecord, Mapping[str, int]], ...] = ()  # with item counts
    waiting: tuple[tuple[BatchRecord, Progress], ...] = ()

    @property
    def exit_code(self) -> int:
        """The run's: a question waiting in a batch is neither a failure nor unanswered."""
        return self.run.exit_code

    @classmethod
    def combine(cls, reports: Sequence[BatchRunReport]) -> BatchRunReport:
        """One report for the vaults of one command."""
        notes = tuple(n for r in reports for n in r.run.notes)
        return cls(
            RunReport(notes, sum(r.run.seconds for r in reports)),
            tuple(b for r in reports for b in r.submitted),
            tuple(c for r in reports for c in r.collected),
            tuple(w for r in reports for w in r.waiting),
        )

    def to_json(self) -> Mapping[str, Any]:
        batches = [{"id": b.id, "provider": b.provider, "requests": b.requests}
                   for b in self.submitted]  # fmt: skip
        collected = [
            {"id": b.id, "provider": b.provider, "requests": b.requests, **counts}
            for b, counts in self.collected
        ]
        waiting = [
            {"id": b.id, "provider": b.provider, "requests": b.requests, "status": p.status,
             "done": p.done}
            for b, p in self.waiting
        ]  # fmt: skip
        return {**self.run.to_json(), "batches": batches, "collected": collected,
                "waiting": waiting}  # fmt: skip


def merge_reports(runs: Iterable[RunReport]) -> RunReport:
    """The rounds of one run as one report, notes in the order they first appeared."""
    notes: dict[str, NoteReport] = {}
    seconds = 0.0
    for run in runs:
        seconds += run.seconds
        for note in run.notes:
            earlier = notes.get(note.path)
            notes[note.path] = note if earlier is None else _merge(earlier, note)
    return RunReport(tuple(notes.values()), seconds)


def _merge(earlier: NoteReport, later: NoteReport) -> NoteReport:
    questions: dict[str, QuestionReport] = {q.id: q for q in earlier.questions}
    questions.update({q.id: q for q in later.questions})
    return replace(
        later,
        questions=tuple(questions.values()),
        changed=earlier.changed or later.changed,
        written_hash=later.written_hash or earlier.written_hash,
        diff=later.diff or earlier.diff,
    )
