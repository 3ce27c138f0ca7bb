"""From outcomes to a `WriteBack`: answer callouts, the note's status and confidence, a row.

Pure. A question's answer region records what was decided (its callout type and confidence);
the note's `verification_status` and `confidence_score` are recomputed from every region, new
and old, so that a re-run of one question keeps the others' verdicts.

confidence_score = the minimum confidence over the note's answered questions: a note is as
trustworthy as its weakest answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Literal

from vaultttc.engine.tasks import Outcome, Settings
from vaultttc.notes.edits import AnswerUpdate, ChangelogEntry, ChangelogStyle, WriteBack
from vaultttc.notes.model import AnswerRegion, Note, Question
from vaultttc.notes.render import Templates
from vaultttc.notes.stamp import format_at, stamp

__all__ = [
    "Answered",
    "NoteVerdict",
    "answer_hash",
    "compose",
    "note_verdict",
    "questions_verdict",
    "region_verdict",
    "unsaved",
]

Kind = Literal["verified", "consensus", "unverified", "disputed", "failed", "error"]
NoteStatus = Literal["verified", "consensus", "disputed", "failed", "stale", "pending"]
DISPUTE_CONFIDENCE = 0.7  # a disagreement with the author this confident disputes the note
_HASHED = ("strategy", "provider", "model", "samples", "thinking_budget", "effort", "max_tokens",
           "verify", "execute", "beam_width", "depth", "threshold")  # fmt: skip
_CALLOUT = {"verified": "success", "consensus": "info", "unverified": "info",
            "disputed": "warning", "failed": "failure"}  # fmt: skip
_LABEL = {"verified": "Verified", "consensus": "Consensus", "unverified": "Unverified",
          "disputed": "Disputed", "failed": "Failed", "error": "Failed"}  # fmt: skip
_AUTHOR = {"agrees": "Agrees with the author", "disagrees": "Disagrees with the author",
           "unsure": "Not checked against the author"}  # fmt: skip
_REGION_RE = re.compile(r"\[!(\w+)\][+-]?\s*(\w+)")
_CONFIDENCE_RE = re.compile(r"confidence (\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class Answered:
    """What a run decided for one question: an outcome, or the error that stopped it."""

    question_hash: str
    hash: str
    outcome: Outcome | None
    error: str | None = None
    language: str = "python"
    problem: str | None = None  # why it could not be answered (engine.problems); never written
    author: str | None = None  # checking the author: "agrees" or "disagrees"
    author_by: str = ""  # "reference" or "judge"


@dataclass(frozen=True, slots=True)
class NoteVerdict:
    status: NoteStatus
    confidence: float | None


def answer_hash(question: Question, settings: Settings) -> str:
    """Everything that determined the answer: the question's content and the run settings."""
    knobs = {k: v for k, v in asdict(settings).items() if k in _HASHED}
    if question.kind != "code":  # consent to execute changes only a code task's verdict
        knobs.pop("execute")
    text = question.hash + json.dumps(knobs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def region_verdict(region: AnswerRegion, prefix: str = "") -> tuple[Kind, float | None]:
    """A stored answer region's verdict: from its begin marker, or (regions written before
    markers carried it) from the callout header the default template renders."""
    if region.verdict is not None:
        marked = region.verdict if region.verdict in _LABEL else "failed"
        return marked, region.confidence  # type: ignore[return-value]
    body = _unquoted(region.body, prefix)
    first = body.strip().split("\n", 1)[0] if body.strip() else ""
    match = _REGION_RE.search(first)
    label = match.group(2).lower() if match else "failed"
    kind: Kind = label if label in _CALLOUT else "failed"  # type: ignore[assignment]
    confidence = _CONFIDENCE_RE.search(first)
    return kind, float(confidence.group(1)) if confidence else None


def note_verdict(kinds: Sequence[tuple[Kind, float | None]], *, stale: bool) -> NoteVerdict:
    if not kinds:
        return NoteVerdict("pending", None)
    scores = [c for _, c in kinds if c is not None]
    confidence = min(scores) if scores else None
    names = {k for k, _ in kinds}
    if names & {"failed", "error"}:
        return NoteVerdict("failed", confidence)
    if "disputed" in names:
        return NoteVerdict("disputed", confidence)
    if stale:
        return NoteVerdict("stale", confidence)
    if names == {"verified"}:
        return NoteVerdict("verified", confidence)
    return NoteVerdict("consensus", confidence)


def questions_verdict(note: Note) -> NoteVerdict:
    """The note's status from its answer regions alone (no run in progress)."""
    kinds = [region_verdict(q.answer, q.prefix) for q in note.questions if q.answer]
    stale = any(
        (q.answer is None and not q.authored) or (q.answer is not None and q.answer.id != q.id)
        for q in note.questions
    )
    return note_verdict(kinds, stale=stale)


def unsaved(note: Note, answered: Mapping[str, Answered]) -> set[str]:
    """The ids of this run's answers `compose` drops from `note`: their question changed, or
    went, since it was asked."""
    now = {q.id: q.hash for q in note.questions}
    return {k for k, v in answered.items()
            if v.outcome is not None and now.get(k) != v.question_hash}  # fmt: skip


def compose(
    note: Note,
    answered: Mapping[str, Answered],
    *,
    templates: Templates,
    today: date,
    style: ChangelogStyle | None = None,
    now: datetime | None = None,
    reverified: str | None = None,
) -> WriteBack:
    """The write-back for a note given this run's answers (keyed by question id).

    Answers whose question changed since it was asked are dropped (the author's text wins);
    the question is then `stale` until the next run. A question that could not be answered
    (an error, not a verdict) changes nothing: its note stays as it was. Each new answer's
    marker records `now` (default: `today` at midnight UTC), its model and its digest.
    `reverified`: this run re-verified stored answers (vault.reverify says how it went, in
    the changelog row's words); an agreeing re-verification reinforces a consensus note too.
    """
    at = now or datetime.combine(today, time(), UTC)
    answered = {k: v for k, v in answered.items() if v.outcome is not None}
    dropped = unsaved(note, answered)
    updates: list[AnswerUpdate] = []
    kinds: list[tuple[Kind, float | None]] = []
    stale = False
    for question in note.questions:
        done = answered.get(question.id)
        if done is not None and question.id not in dropped:
            callout = render_callout(done, templates=templates, today=today)
            kind, confidence = _kind_of(done)
            if (
                question.answer is None
                or question.answer.hash != done.hash
                or (question.answer.verdict, question.answer.confidence) != (kind, confidence)
                or _differs(question, callout)
                or (reverified is not None and question.answer.attr("at") != format_at(at))
            ):
                assert done.outcome is not None
                marks = stamp(done.outcome, at)
                updates.append(
                    AnswerUpdate(question.id, done.hash, callout, kind, confidence, marks)
                )
            kinds.append((kind, confidence))
        elif question.answer is not None:
            kinds.append(region_verdict(question.answer, question.prefix))
            # Asked, but edited since; or its region answers an earlier wording (another id).
            stale = stale or done is not None or question.answer.id != question.id
        elif not question.authored:  # the author's own Q&A is theirs, not pending work
            stale = True
    if not updates:
        return WriteBack()
    verdict = note_verdict(kinds, stale=stale)
    row = _row(answered, verdict, today)
    if reverified:
        row = replace(row, change=f"{reverified} · {verdict.status}")
    reinforce = verdict.status == "verified" or (
        reverified is not None and verdict.status == "consensus" and "agrees" in reverified
    )
    return WriteBack(
        frontmatter=_frontmatter(verdict, today, reinforce=reinforce),
        answers=tuple(updates),
        changelog=row,
        style=style or ChangelogStyle(),
    )


def _differs(question: Question, callout: str) -> bool:
    assert question.answer is not None
    return _unquoted(question.answer.body, question.prefix) != callout


def _unquoted(body: str, prefix: str) -> str:
    if not prefix:
        return body
    marker = prefix.rstrip()
    return "\n".join(line.removeprefix(marker).removeprefix(" ") for line in body.split("\n"))


def _kind_of(done: Answered) -> tuple[Kind, float | None]:
    if done.outcome is None:
        return "error", 0.0
    confidence = round(done.outcome.confidence, 2)
    if done.author == "disagrees":
        return ("disputed" if confidence >= DISPUTE_CONFIDENCE else "unverified"), confidence
    if done.author is not None:  # agreeing with the author is support, not verification
        return "consensus", confidence
    return done.outcome.status, confidence


def _frontmatter(
    verdict: NoteVerdict, today: date, *, reinforce: bool
) -> tuple[tuple[str, str], ...]:
    values: list[tuple[str, str]] = []
    if verdict.confidence is not None:
        values.append(("confidence_score", f"{verdict.confidence:.2f}"))
    values.append(("verification_status", verdict.status))
    if reinforce:
        values.append(("last_reinforced", today.isoformat()))
    return tuple(values)


def _row(answered: Mapping[str, Answered], verdict: NoteVerdict, today: date) -> ChangelogEntry:
    outcomes = [a.outcome for a in answered.values() if a.outcome is not None]
    counts: dict[str, int] = {}
    for a in answered.values():
        kind = a.outcome.status if a.outcome else "error"
        counts[kind] = counts.get(kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    strategies = sorted({o.strategy for o in outcomes})
    tokens = sum(o.usage.input_tokens + o.usage.output_tokens + o.usage.thinking_tokens
                 for o in outcomes)  # fmt: skip
    cost = sum(o.cost_usd for o in outcomes)
    confidence = f"{verdict.confidence:.2f}" if verdict.confidence is not None else "-"
    return ChangelogEntry(
        date=today.isoformat(),
        change=f"vaultttc: {len(answered)} answered ({summary}) · {verdict.status}",
        strategy=", ".join(strategies) or "-",
        confidence=confidence,
        tokens=str(tokens),
        cost=f"${cost:.4f}",
    )


def render_callout(done: Answered, *, templates: Templates, today: date) -> str:
    outcome = done.outcome
    assert outcome is not None  # compose never renders a question that was not answered
    kind, _ = _kind_of(done)
    label = _LABEL[kind]
    if done.author is not None:
        label = _AUTHOR[done.author] + (" (judged)" if done.author_by == "judge" else "")
    return templates.answer(
        {
            "kind": _CALLOUT[kind],
            "label": label,
            "o": outcome,
            "tally": _tally(outcome),
            "tokens": outcome.usage.input_tokens
            + outcome.usage.output_tokens
            + outcome.usage.thinking_tokens,
            "language": done.language,
            "date": today.isoformat(),
        }
    )


def _tally(outcome: Outcome) -> str:
    """`6 passed · 8 samples`: counts, not a fraction, since samples include router calls."""
    samples = f"{outcome.samples_used} sample" + ("s" if outcome.samples_used != 1 else "")
    checked = ("reference", "tests", "examples", "check")
    if outcome.evidence in checked and outcome.samples_used > 1:
        return f"{outcome.passed} passed · {samples}"
    if outcome.evidence == "vote" or outcome.agreed > 1:
        return f"{outcome.agreed} agree · {samples}"
    return samples
