"""Living documentation around the example runner: consent, and recording outcomes in notes.

`may_execute` decides whether a note's code may run (the flag, the note's `ttc.execute`, the
vault's `execute = true`); `plan_record` turns a `ExamplesReport` into the frontmatter values and
changelog row it earns; `record_outcome` writes them with a compare-and-swap save. Used by the
pytest plugin (`vaultttc test --record`) and by the daemon.

Must not: import pytest, run examples, or change anything in a note besides
`verification_status`, `last_reinforced` and one changelog row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from vaultttc.config import VaultConfig, load_config
from vaultttc.living.examples import ExampleOptions, ExamplesReport, run_examples
from vaultttc.notes.compose import questions_verdict, region_verdict
from vaultttc.notes.edits import ChangelogEntry, WriteBack, rewrite
from vaultttc.notes.model import Note
from vaultttc.notes.render import Templates
from vaultttc.vault.files import Loaded, digest, encode, find_vault_root, read_note, update_note

__all__ = [
    "check_examples",
    "may_execute",
    "open_questions",
    "plan_record",
    "record_outcome",
    "run_options",
]


def may_execute(note: Note, *, allow_exec: bool, config: VaultConfig) -> bool:
    """Consent to run this note's code: `--allow-exec`, `ttc.execute: true`, `execute = true`."""
    return allow_exec or note.ttc.get("execute") is True or config.execute


def run_options(
    note: Note,
    config: VaultConfig,
    *,
    timeout_s: float | None = None,
    memory_mb: int | None = None,
    ellipsis: bool = False,
) -> ExampleOptions:
    """Example limits: the flag > the note's `ttc.timeout` > the vault's `timeout` > default."""
    default = ExampleOptions()
    timeout = timeout_s or _positive(note.ttc) or config.defaults.get("timeout_s")
    return ExampleOptions(
        timeout_s=float(timeout or default.timeout_s),
        memory_mb=memory_mb or default.memory_mb,
        ellipsis=ellipsis,
    )


def _positive(ttc: Mapping[str, Any]) -> float | None:
    value = ttc.get("timeout", ttc.get("timeout_s"))
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if number and value > 0 else None


def check_examples(
    path: Path, *, allow_exec: bool, today: date, record: bool = True, display: str | None = None
) -> ExamplesReport:
    """Run one note's examples (with consent) and record the outcome: what the daemon calls.

    Raises `NoteError` for a note that cannot be read, `StaleNoteError` when it kept changing.
    """
    root = find_vault_root(path.parent)
    config = load_config(root)
    note = read_note(path, display=display).note
    allowed = may_execute(note, allow_exec=allow_exec, config=config)
    report = run_examples(note, allowed=allowed, options=run_options(note, config))
    if record:
        record_outcome(path, report, today=today, vault_root=root)
    return report


def open_questions(note: Note) -> int:
    """Questions without an answer region, or whose answer is not a verified one."""
    return sum(
        1
        for q in note.questions
        if q.answer is None or region_verdict(q.answer, q.prefix)[0] != "verified"
    )


def plan_record(note: Note, report: ExamplesReport, *, today: date) -> WriteBack | None:
    """What the run earns the note, or None when it earns nothing new.

    A failing example sets `verification_status: failed` and a row naming it (the first, and
    how many more failed: the terminal lists each); all examples
    passing (and no open questions) sets `verified` and `last_reinforced`. A run that would
    not change the frontmatter adds no row either, so re-running an unchanged note is a no-op.
    """
    day = today.isoformat()
    failure = report.first_failure
    if failure is not None:
        values: tuple[tuple[str, str], ...] = (("verification_status", "failed"),)
        message = failure.message if len(failure.message) <= 160 else failure.message[:159] + "…"
        more = sum(1 for r in report.results if r.status == "failed") - 1
        also = f" (and {more} more)" if more else ""
        change = f"examples: {Path(report.path).name}:{failure.line} failed{also} — {message}"
    elif report.all_passed:
        ran = sum(1 for r in report.results if r.status == "passed")
        change = f"examples: {ran} passed"
        if open_questions(note):  # the questions' answers decide; no example fails it now
            values = (("verification_status", questions_verdict(note).status),)
        else:
            values = (("verification_status", "verified"), ("last_reinforced", day))
    else:
        return None
    data = note.frontmatter.data if note.frontmatter else {}
    if all(str(data.get(key)) == value for key, value in values):
        return None
    entry = ChangelogEntry(date=day, change=change, strategy="examples")
    return WriteBack(frontmatter=values, changelog=entry)


def record_outcome(
    path: Path, report: ExamplesReport, *, today: date, vault_root: Path | None = None
) -> str | None:
    """Write the outcome into the note at `path`; the hash of the bytes written, or None when
    the note did not change (the daemon recognises its own save by that hash).

    Re-plans on the text found at save time, so an edit made meanwhile is never lost.
    """
    templates = Templates(vault_root)
    bom = False

    def plan(loaded: Loaded) -> str | None:
        nonlocal bom
        bom = loaded.note.bom
        writeback = plan_record(loaded.note, report, today=today)
        return None if writeback is None else rewrite(loaded.note, writeback, templates=templates)

    text = update_note(path, plan, display=report.path)
    return digest(encode(text, bom=bom)) if text is not None else None
