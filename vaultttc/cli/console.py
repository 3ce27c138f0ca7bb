"""Terminal output for `vaultttc run`: a progress bar while it works, a table when it is done.

Only presentation lives here (rich); the numbers come from `RunReport`.
"""

from __future__ import annotations

from types import TracebackType

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vaultttc.engine.report import RunReport

__all__ = ["RunProgress", "print_report"]


class RunProgress:
    """One bar over questions; its total grows as notes reveal how many questions need asking."""

    def __init__(self, *, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=Console(stderr=True), disable=not enabled,
            transient=True,
        )  # fmt: skip
        self._task = self._progress.add_task("questions", total=0)

    def update(self, note: str, count: int) -> None:
        """`count` > 0: a note has that many questions to ask; -1: one question is done."""
        if count > 0:
            total = (self._progress.tasks[0].total or 0) + count
            self._progress.update(self._task, total=total, description=note)
        else:
            self._progress.advance(self._task)

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()


def print_report(report: RunReport, *, dry_run: bool) -> None:
    for note in report.notes:
        if note.error:
            click.echo(f"error: {note.error}", err=True)
        if note.skipped:
            click.echo(f"skipped {note.path}: {note.skipped}", err=True)
        for q in note.questions:
            if q.status == "unanswered":
                where = f"{note.path}:{q.line}"
                click.echo(f"could not answer {where} ({q.cause}): {q.error}; {q.fix}", err=True)
            elif q.status == "failed":
                click.echo(f"failed verification: {note.path}:{q.line} ({q.id})", err=True)
        if dry_run and note.diff:
            click.echo(note.diff, nl=False)
    totals = report.totals()
    table = Table(title="vaultttc run" + (" (dry run: nothing written)" if dry_run else ""))
    columns = ["notes", "changed", "questions", "verified", "consensus", "failed", "unanswered",
               "samples", "tokens", "cost", "time"]  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    tokens = totals["input_tokens"] + totals["output_tokens"] + totals["thinking_tokens"]
    table.add_row(
        str(totals["notes"]), str(totals["notes_changed"]), str(totals["questions"]),
        str(totals["verified"]), str(totals["consensus"]), str(totals["failed"]),
        str(totals["unanswered"]), str(totals["samples"]), str(tokens),
        f"${totals['cost_usd']:.4f}", f"{totals['seconds']:.1f}s",
    )  # fmt: skip
    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: room for every column, never "chan…"
        console = Console(highlight=False, width=120)
    console.print(table)
