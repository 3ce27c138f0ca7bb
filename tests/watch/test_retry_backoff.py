"""The daemon retries notes it could not answer, with backoff, never in a tight loop."""

from __future__ import annotations

import pytest

from vaultttc.engine.report import NoteReport, QuestionReport
from vaultttc.watch.note import needs_backoff
from vaultttc.watch.schedule import Change, Finished, Scheduler, retry_delay


def test_the_backoff_doubles_from_a_minute_to_an_hour() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 7, 20)] == [60, 120, 240, 3600, 3600]


def test_a_note_that_could_not_be_answered_is_retried_only_after_its_backoff() -> None:
    scheduler = Scheduler(debounce_s=0.0)
    scheduler.apply(Change("changed", "a.md"), 0.0)
    assert [d.path for d in scheduler.take_due(0.0, 10)] == ["a.md"]
    scheduler.finished("a.md", Finished("h1", retry=True), 10.0)
    assert scheduler.retry_failed(30.0) == []  # 20 s later: too early
    assert scheduler.retry_failed(71.0) == ["a.md"]
    [due] = scheduler.take_due(71.0, 10)
    assert due.force  # retried even though its bytes did not change
    scheduler.finished("a.md", Finished("h1", retry=True), 72.0)
    assert scheduler.retry_failed(150.0) == []  # the second wait is two minutes
    assert scheduler.retry_failed(193.0) == ["a.md"]


def test_a_success_resets_the_backoff() -> None:
    scheduler = Scheduler(debounce_s=0.0)
    scheduler.apply(Change("changed", "a.md"), 0.0)
    scheduler.take_due(0.0, 10)
    scheduler.finished("a.md", Finished("h1", retry=True), 0.0)
    scheduler.retry_failed(61.0)
    scheduler.take_due(61.0, 10)
    scheduler.finished("a.md", Finished("h1"), 62.0)
    assert scheduler.retry_failed(10_000.0) == []


def _asked(status: str, cause: str | None) -> NoteReport:
    q = QuestionReport(id="q", line=3, strategy="direct", provider="p", model="m",
                       samples_used=1, answer=None, verified=None, status=status,
                       confidence=None, input_tokens=0, output_tokens=0, thinking_tokens=0,
                       cost_usd=0.0, cached=False, cause=cause)  # fmt: skip
    return NoteReport("a.md", questions=(q,))


@pytest.mark.parametrize(
    ("status", "cause", "backoff"),
    [
        ("unanswered", "provider", True),  # the server was down: try again later
        ("unanswered", "cut", True),
        ("deferred", "budget", True),  # the daily budget: tomorrow
        ("unanswered", "edited", False),  # the author's edit runs the note again by itself
        ("unanswered", "unsaved", False),  # a save given up on: retried once the note is quiet
        ("failed", None, False),  # a verdict: nothing to retry
    ],
)
def test_only_what_the_provider_or_the_budget_left_is_retried_with_backoff(
    status: str, cause: str | None, backoff: bool
) -> None:
    assert needs_backoff(_asked(status, cause)) is backoff
