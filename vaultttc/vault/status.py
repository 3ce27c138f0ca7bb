"""The vault at a glance: what `vaultttc status` prints and `vaultttc dashboard` draws.

`collect(vault, now)` reads the notes (never a provider), the spend ledger, the batches out,
the regressions re-verification found, and returns a `VaultStatus` of plain values;
`to_json(status)` is `status --json`. Notes that cannot be read are counted, never fatal.
The clock is a parameter.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from vaultttc.config import CONFIG_DIR
from vaultttc.errors import VaultTTCError
from vaultttc.notes.compose import region_verdict
from vaultttc.notes.model import Note
from vaultttc.notes.stamp import read_stamp
from vaultttc.vault.batches import load_batches
from vaultttc.vault.files import iter_notes, read_note
from vaultttc.vault.ledger import LEDGER_FILE
from vaultttc.vault.ledger import load as load_ledger
from vaultttc.vault.reverify import REGRESSIONS_FILE, Reverified
from vaultttc.vault.reverify import load as load_regressions
from vaultttc.vault.session import Vault, display_path
from vaultttc.vault.stale import answer_date, last_reinforced, parse_age

__all__ = ["REPORT_NOTE", "AnswerRow", "NoteRow", "VaultStatus", "collect", "to_json"]

REPORT_NOTE = "vaultttc/Report.md"  # written by `vaultttc dashboard`


@dataclass(frozen=True, slots=True)
class NoteRow:
    path: str
    status: str  # the note's `verification_status`, or "none"
    confidence: float | None
    last_reinforced: date | None


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """A stored answer. `labelled`: the question has a reference (expect, tests or check), so
    whether it was verified says whether the answer was right."""

    note: str
    line: int
    id: str
    verdict: str
    confidence: float | None
    at: datetime | None
    model: str
    strategy: str
    samples: int
    labelled: bool


@dataclass(frozen=True, slots=True)
class VaultStatus:
    root: str
    now: datetime
    notes: tuple[NoteRow, ...]
    answers: tuple[AnswerRow, ...]
    pending: int  # questions never answered, or changed since
    unreadable: int
    spend_by_day: dict[str, float] = field(default_factory=dict)
    batched: int = 0  # requests waiting in providers' batches
    regressions: tuple[Reverified, ...] = ()
    stale_after: str | None = None
    stale: int = 0  # answers older than `stale_after` (reverify_after)

    @property
    def month_usd(self) -> float:
        first = self.now.date().replace(day=1).isoformat()
        return round(sum(v for k, v in self.spend_by_day.items() if k >= first), 6)


def collect(vault: Vault, now: datetime, *, stale_after: str | None = None) -> VaultStatus:
    root = vault.root
    rows: list[NoteRow] = []
    answers: list[AnswerRow] = []
    pending = unreadable = 0
    for path in iter_notes(root, exclude=vault.config.exclude):
        display = display_path(path, root)
        if display == REPORT_NOTE:  # the dashboard's own note is no knowledge to count
            continue
        try:
            note = read_note(path, display=display).note
        except (OSError, VaultTTCError):
            unreadable += 1
            continue
        rows.append(_note_row(note, display))
        answers += _answer_rows(note, display)
        pending += sum(1 for q in note.questions if not q.authored
                       and (q.answer is None or q.answer.id != q.id))  # fmt: skip
    days: dict[str, float] = {}
    for spend in load_ledger(root / CONFIG_DIR / LEDGER_FILE):
        days[spend.day] = days.get(spend.day, 0.0) + spend.usd
    after = stale_after or vault.config.reverify_after
    limit = now - parse_age(after) if after else None
    stale = sum(1 for a in answers if limit and (a.at is None or a.at < limit))
    return VaultStatus(
        str(root), now, tuple(rows), tuple(answers), pending, unreadable,
        spend_by_day=dict(sorted(days.items())),
        batched=sum(r.requests for r in load_batches(root)),
        regressions=tuple(load_regressions(root / CONFIG_DIR / REGRESSIONS_FILE)),
        stale_after=after, stale=stale,
    )  # fmt: skip


def _note_row(note: Note, display: str) -> NoteRow:
    data = note.frontmatter.data if note.frontmatter else {}
    score = data.get("confidence_score")
    reinforced = last_reinforced(note)
    return NoteRow(
        display, str(data.get("verification_status") or "none"),
        float(score) if isinstance(score, int | float) else None,
        reinforced.date() if reinforced else None,
    )  # fmt: skip


def _answer_rows(note: Note, display: str) -> list[AnswerRow]:
    out: list[AnswerRow] = []
    for q in note.questions:
        if q.answer is None:
            continue
        verdict, confidence = region_verdict(q.answer, q.prefix)
        stamp = read_stamp(q.answer)
        labelled = "expect" in q.fields or q.test is not None or q.check is not None
        out.append(AnswerRow(
            display, q.span.first_line, q.id, verdict, confidence, answer_date(note, q),
            stamp.by, stamp.strategy, stamp.samples, labelled,
        ))  # fmt: skip
    return out


def to_json(status: VaultStatus, *, top: int = 10) -> dict[str, Any]:
    """`status --json`: counts, the stalest and least confident answers, spend, work left."""
    dated = sorted(status.answers, key=lambda a: (a.at is not None, a.at or status.now))
    scored = sorted((a for a in status.answers if a.confidence is not None),
                    key=lambda a: a.confidence or 0.0)  # fmt: skip
    month_start = status.now.date().replace(day=1)
    return {
        "vault": status.root,
        "notes": len(status.notes),
        "notes_by_status": dict(Counter(n.status for n in status.notes).most_common()),
        "questions_by_verdict": dict(Counter(a.verdict for a in status.answers).most_common()),
        "stalest": [_answer_json(a, status.now) for a in dated[:top]],
        "lowest_confidence": [_answer_json(a, status.now) for a in scored[:top]],
        "spend": {
            "month_usd": status.month_usd,
            "month": month_start.isoformat()[:7],
            "last_30_days_usd": round(
                sum(
                    v
                    for k, v in status.spend_by_day.items()
                    if k >= (status.now.date() - timedelta(days=29)).isoformat()
                ),
                6,
            ),
        },
        "work": {
            "pending": status.pending,
            "stale": status.stale,
            "stale_after": status.stale_after,
            "batched": status.batched,
        },
        "regressions": [_regression_json(r) for r in status.regressions[-top:]],
        "unreadable": status.unreadable,
    }


def _answer_json(a: AnswerRow, now: datetime) -> dict[str, Any]:
    age = None if a.at is None else round((now - a.at).total_seconds() / 86400, 1)
    return {"note": a.note, "line": a.line, "id": a.id, "verdict": a.verdict,
            "confidence": a.confidence, "answered": a.at.isoformat() if a.at else None,
            "age_days": age, "model": a.model}  # fmt: skip


def _regression_json(r: Reverified) -> dict[str, Any]:
    return {"note": r.note, "line": r.line, "id": r.question, "old_model": r.old_model,
            "new_model": r.new_model, "date": r.at}  # fmt: skip
