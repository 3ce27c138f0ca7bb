"""Terminal output for `vaultttc run`: a progress bar while it works, a table when it is done.

Only presentation lives here (rich); the numbers come from `RunReport`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vaultttc.engine.report import QuestionReport, RunReport

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


def _question_line(path: str, q: QuestionReport) -> tuple[str, bool] | None:
    """The line a question gets, and whether it goes to stderr."""
    where = f"{path}:{q.line}"
    if q.status == "unanswered":
        return f"could not answer {where} ({q.cause}): {q.error}; {q.fix}", True
    if q.status == "deferred":
        return f"deferred {where} ({q.id}): {q.error}; {q.fix}", True
    if q.status == "failed":
        return f"failed verification: {where} ({q.id})", True
    if q.quote is not None:
        return _plan_line(path, q), False
    return None


def print_report(report: RunReport, *, dry_run: bool) -> None:
    for note in report.notes:
        if note.error:
            click.echo(f"error: {note.error}", err=True)
        if note.skipped:
            click.echo(f"skipped {note.path}: {note.skipped}", err=True)
        for line in filter(None, (_question_line(note.path, q) for q in note.questions)):
            click.echo(line[0], err=line[1])
    totals = report.totals()
    if dry_run:
        print_quote(totals)
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


def _plan_line(path: str, q: QuestionReport) -> str:
    quote = q.quote or {}
    return (
        f"would ask {path}:{q.line} ({q.id}): {q.strategy} × {quote.get('samples')} "
        f"(≤ {quote.get('worst_samples')}) on {q.provider}/{q.model} · "
        f"~{quote.get('input_tokens')} in + ~{quote.get('output_tokens')} out tokens · "
        f"${float(quote.get('expected_usd', 0)):.4f} expected, "
        f"${float(quote.get('worst_usd', 0)):.4f} worst" + (f" · {q.note}" if q.note else "")
    )


def print_quote(totals: Mapping[str, Any]) -> None:
    quote = totals.get("quote")
    if quote:
        click.echo(
            f"quote: ${quote['expected_usd']:.4f} expected, ${quote['worst_usd']:.4f} worst case "
            f"for {quote['samples']} samples (≤ {quote['worst_samples']}); tokens estimated at "
            "4 characters each, output from this vault's history (or 256 per sample)"
        )
