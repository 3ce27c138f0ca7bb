"""The run report: per note, per question, and totals — as values and as product.md's JSON.

Pure. `verified` is true when a verifier passed the answer, false when the question failed,
and null when nothing could verify it (consensus, judge, no verifier). A question that could
not be answered has status `unanswered`, its `error`, `cause` and `fix`; one the run's budget
left for later, `deferred`; one whose requests wait in a provider's batch, `batched`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from vaultttc.engine.problems import fix
from vaultttc.engine.runner import Job
from vaultttc.notes.compose import Answered

__all__ = ["NoteReport", "QuestionReport", "RunReport", "left_untouched", "question_report"]


@dataclass(frozen=True, slots=True)
class QuestionReport:
    id: str
    line: int
    strategy: str
    provider: str
    model: str
    samples_used: int
    answer: str | None
    verified: bool | None
    status: str
    confidence: float | None
    input_tokens: int
    output_tokens: int
    thinking_tokens: int
    cost_usd: float
    cached: bool
    error: str | None = None
    note: str = ""
    cause: str | None = None  # why it was left unanswered: an `engine.problems.Problem`
    fix: str | None = None
    quote: Mapping[str, Any] | None = None  # a dry run's estimate (engine.quote.Quote)
    reverified: str | None = None  # re-verification: agrees, disagrees or regression


@dataclass(frozen=True, slots=True)
class NoteReport:
    path: str
    questions: tuple[QuestionReport, ...] = ()
    changed: bool = False
    error: str | None = None
    diff: str | None = None
    written_hash: str | None = None
    skipped: str | None = None  # left alone on purpose (read-only), with the reason
    regressions: tuple[str, ...] = ()  # re-verification: verified answers that now fail
    stale: bool = False  # answered, but not saved: the note kept changing under the save


@dataclass(frozen=True, slots=True)
class RunReport:
    notes: tuple[NoteReport, ...]
    seconds: float = 0.0

    def totals(self) -> dict[str, Any]:
        questions = [q for n in self.notes for q in n.questions]
        return {
            "notes": len(self.notes),
            "notes_changed": sum(n.changed for n in self.notes),
            "notes_unreadable": sum(n.error is not None and not n.questions for n in self.notes),
            "questions": len(questions),
            "verified": sum(q.status == "verified" for q in questions),
            "consensus": sum(q.status in ("consensus", "unverified") for q in questions),
            "failed": sum(q.status == "failed" for q in questions),
            "unanswered": sum(q.status == "unanswered" for q in questions),
            "deferred": sum(q.status == "deferred" for q in questions),
            "batched": sum(q.status == "batched" for q in questions),
            "samples": sum(q.samples_used for q in questions),
            "input_tokens": sum(q.input_tokens for q in questions),
            "output_tokens": sum(q.output_tokens for q in questions),
            "thinking_tokens": sum(q.thinking_tokens for q in questions),
            "cost_usd": round(sum(q.cost_usd for q in questions), 6),
            **self._quote(questions),
            "cached": sum(q.cached for q in questions),
            "seconds": round(self.seconds, 3),
        }

    @staticmethod
    def _quote(questions: list[QuestionReport]) -> dict[str, Any]:
        quotes = [q.quote for q in questions if q.quote is not None]
        if not quotes:
            return {}
        keys = ("samples", "worst_samples", "input_tokens", "output_tokens", "thinking_tokens")
        total = {k: sum(int(q[k]) for q in quotes) for k in keys}
        usd = {k: round(sum(float(q[k]) for q in quotes), 6) for k in ("expected_usd", "worst_usd")}
        return {"quote": {**total, **usd}}

    @property
    def exit_code(self) -> int:
        """2: a note could not be read or configured (found before any request); 4: a
        re-verification found a regression (an answer verified by its reference now fails it);
        3: some questions could not be answered, or their answers not saved, and were left
        untouched; 1: a verification failed."""
        if any(n.error is not None and not n.questions for n in self.notes):
            return 2
        if any(n.regressions for n in self.notes):
            return 4
        totals = self.totals()
        if totals["unanswered"] or totals["deferred"]:
            return 3
        return 1 if totals["failed"] else 0

    def to_json(self) -> Mapping[str, Any]:
        notes = [
            {
                "path": n.path,
                "changed": n.changed,
                "error": n.error,
                "questions": [asdict(q) for q in n.questions],
                **({"regressions": list(n.regressions)} if n.regressions else {}),
            }
            for n in self.notes
        ]
        return {"notes": notes, "totals": self.totals()}


_EDITED = "the question changed while it was asked: its answer was not written"


def left_untouched(
    questions: tuple[QuestionReport, ...], *, ids: Collection[str] | None = None, why: str = ""
) -> tuple[QuestionReport, ...]:
    """The reports with the answers that were not written after all made unanswered, never a
    verdict: those of `ids` (their question changed while it was asked: cause `edited`), or,
    with `ids` None, every one (the note could not be saved, `why`: cause `unsaved`)."""
    cause = "unsaved" if ids is None else "edited"
    return tuple(
        replace(q, answer=None, verified=None, status="unanswered", confidence=None,
                error=why or _EDITED, cause=cause, fix=fix(cause))
        if q.status not in ("unanswered", "deferred", "batched") and (ids is None or q.id in ids)
        else q
        for q in questions
    )  # fmt: skip


def question_report(job: Job, answered: Answered) -> QuestionReport:
    settings, outcome = job.settings, answered.outcome
    head = QuestionReport(
        id=job.question.id, line=job.question.span.first_line, strategy=settings.strategy,
        provider=settings.provider, model=settings.model or "", samples_used=0, answer=None,
        verified=None, status="unanswered", confidence=None, input_tokens=0, output_tokens=0,
        thinking_tokens=0, cost_usd=0.0, cached=False, error=answered.error,
    )  # fmt: skip
    if outcome is None:
        status = {"deferred": "deferred", "batch": "batched"}.get(
            answered.problem or "", "unanswered"
        )
        cause = "budget" if status == "deferred" else answered.problem or "internal"
        return replace(head, status=status, cause=cause, fix=fix(answered.problem))
    return replace(
        head,
        strategy=outcome.strategy,
        samples_used=outcome.samples_used,
        answer=outcome.code or outcome.answer,
        verified={"verified": True, "failed": False}.get(outcome.status),
        status=outcome.status,
        confidence=round(outcome.confidence, 4),
        input_tokens=outcome.usage.input_tokens,
        output_tokens=outcome.usage.output_tokens,
        thinking_tokens=outcome.usage.thinking_tokens,
        cost_usd=round(outcome.cost_usd, 6),
        cached=outcome.cached,
        note=outcome.note,
    )
