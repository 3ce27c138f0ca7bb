"""The daemon retries notes it could not answer, with backoff, never in a tight loop."""

from __future__ import annotations

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
