"""What the daemon does to one note besides asking its questions: read its bytes, run and
record its examples (living docs) when execution is allowed, and say what happened in one line.

Blocking IO, meant for a worker thread; no scheduling and no event loop here.
Must not: ask questions (the session does), or change a note except through `update_note`'s
compare-and-swap save.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from vaultttc.config import VaultConfig
from vaultttc.engine.report import NoteReport
from vaultttc.errors import VaultTTCError
from vaultttc.living.examples import ExamplesReport
from vaultttc.living.record import check_examples, may_execute, record_outcome
from vaultttc.vault.files import read_note

__all__ = ["needs_backoff", "note_bytes", "print_status", "run_and_record", "status_line"]


def run_and_record(
    path: Path, rel: str, *, allow_exec: bool, config: VaultConfig, today: date, root: Path
) -> tuple[ExamplesReport | None, str | None]:
    """Run the note's examples if it may execute, and record the outcome in the note.

    Returns the examples' report (None when the note has none or may not execute) and the hash
    of the bytes saved (None when nothing was). Raises OSError/VaultTTCError when the outcome
    could not be recorded.
    """
    try:
        note = read_note(path, display=rel).note
    except (OSError, VaultTTCError):
        return None, None  # the run already said why
    if not note.examples or not may_execute(note, allow_exec=allow_exec, config=config):
        return None, None
    report = check_examples(path, allow_exec=allow_exec, today=today, record=False, display=rel)
    return report, record_outcome(path, report, today=today, vault_root=root)


def note_bytes(path: Path, root: Path) -> bytes | None:
    """The note's bytes, or None when it is gone or is not a regular file inside the vault."""
    try:
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            return None
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def needs_backoff(report: NoteReport) -> bool:
    """Whether the note is retried with backoff: the provider or the budget left a question
    unanswered. An edited question, or a save given up on, runs again once the note is quiet
    (the author's edit is an event of its own), so it waits for no backoff."""
    return any(q.status in ("unanswered", "deferred") and q.cause not in ("edited", "unsaved")
               for q in report.questions)  # fmt: skip


def status_line(report: NoteReport, *, seconds: float, examples: ExamplesReport | None = None,
                written: bool = False) -> str:  # fmt: skip
    """One line about one run of one note, for stderr and the log."""
    if report.error is not None and not report.questions:
        where, message = _located(report.error, report.path)
        return f"{where}: skipped: {message}"
    if report.skipped is not None:  # left alone on purpose (read-only), though it has questions
        return f"{report.path}: skipped: {report.skipped} ({seconds:.2f}s)"
    parts: list[str] = []
    if report.questions:
        counts = Counter(q.status for q in report.questions)
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        parts.append(f"{len(report.questions)} asked ({detail})")
    if examples is not None and examples.results:
        counts = Counter(r.status for r in examples.results)
        parts.append("examples " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if report.error is not None:
        parts.append(f"not saved: {_located(report.error, report.path)[1]}")
    parts.append("written" if written else ("unchanged" if parts else "up to date"))
    return f"{report.path}: {'; '.join(parts)} ({seconds:.2f}s)"


def _located(error: str, path: str) -> tuple[str, str]:
    """`path:LINE` and the message of an error that starts with the note's path."""
    match = re.match(rf"({re.escape(path)}(?::\d+)?): (.*)", error, re.DOTALL)
    return (match.group(1), match.group(2)) if match else (path, error)


def print_status(line: str) -> None:
    """The daemon's default status sink: one line on stderr, flushed at once."""
    print(line, file=sys.stderr, flush=True)
