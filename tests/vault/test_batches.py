"""The batch state file and the batch run report: records survive a round trip, an unreadable
file is a clear error, no records leaves no file; a `--wait` run's rounds fold into one report."""

from __future__ import annotations

import dataclasses
import multiprocessing
from pathlib import Path

import pytest

from vaultttc.engine.report import NoteReport, QuestionReport, RunReport
from vaultttc.errors import ConfigError
from vaultttc.vault.batch_report import merge_reports
from vaultttc.vault.batches import (
    BatchRecord,
    load_batches,
    save_batches,
    state_path,
    update_batches,
)

RECORD = BatchRecord(
    "msgbatch_1", "anthropic", "claude-sonnet-5-5", 2, ("a" * 64, "b" * 64),
    "2026-03-14T10:00:00+00:00", ("notes/x.md",),
    cli={"strategy": "self-consistency", "samples": 4},
)  # fmt: skip


def test_records_round_trip_and_none_leaves_no_file(tmp_path: Path) -> None:
    assert load_batches(tmp_path) == []
    save_batches(tmp_path, [RECORD])
    assert load_batches(tmp_path) == [RECORD]
    assert "cli" in state_path(tmp_path).read_text()
    save_batches(tmp_path, [])
    assert not state_path(tmp_path).exists()


def test_an_update_keeps_what_another_run_saved_since_this_one_read(tmp_path: Path) -> None:
    """Two runs hold the state as it was when they started; one submits a batch, then the
    other forgets the one it collected: the new record survives (the second run's copy, saved
    as it was, would drop a paid batch)."""
    (tmp_path / ".vaultttc").mkdir()
    collected = dataclasses.replace(RECORD, id="msgbatch_old")
    save_batches(tmp_path, [collected])
    second_run_copy = load_batches(tmp_path)
    new = dataclasses.replace(RECORD, id="msgbatch_new")
    update_batches(tmp_path, lambda now: [*now, new])
    after = update_batches(tmp_path, lambda now: [r for r in now if r.id != collected.id])
    assert after == load_batches(tmp_path) == [new]
    assert [r for r in second_run_copy if r.id != collected.id] == []  # what it would have saved


def _submit_many(root: Path, who: int, count: int) -> None:
    for i in range(count):
        record = dataclasses.replace(RECORD, id=f"msgbatch_{who}_{i}")
        update_batches(root, lambda now, r=record: [*now, r])


def test_runs_updating_at_once_lose_no_record(tmp_path: Path) -> None:
    (tmp_path / ".vaultttc").mkdir()
    processes = [
        multiprocessing.get_context("fork").Process(target=_submit_many, args=(tmp_path, w, 25))
        for w in range(6)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)  # a hang fails instead
    for p in processes:
        if p.is_alive():
            p.kill()  # only the processes this test started, by their own handles
    assert [p.exitcode for p in processes] == [0] * 6
    ids = {r.id for r in load_batches(tmp_path)}
    assert ids == {f"msgbatch_{w}_{i}" for w in range(6) for i in range(25)}


def test_an_unreadable_state_file_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    state_path(tmp_path).parent.mkdir()
    state_path(tmp_path).write_text("{not json")
    with pytest.raises(ConfigError, match="move it aside"):
        load_batches(tmp_path)


def _question(qid: str, status: str) -> QuestionReport:
    return QuestionReport(
        id=qid, line=1, strategy="direct", provider="anthropic", model="m", samples_used=0,
        answer=None, verified=None, status=status, confidence=None, input_tokens=0,
        output_tokens=0, thinking_tokens=0, cost_usd=0.0, cached=False,
    )  # fmt: skip


def test_a_questions_last_round_wins_and_a_note_changed_if_any_round_changed_it() -> None:
    first = RunReport((NoteReport("x.md", (_question("q1", "verified"), _question("q2", "batched")),
                                  changed=True),))  # fmt: skip
    second = RunReport((NoteReport("x.md", (_question("q2", "verified"),)),))
    merged = merge_reports([first, second])
    (note,) = merged.notes
    assert note.changed
    assert [(q.id, q.status) for q in note.questions] == [("q1", "verified"), ("q2", "verified")]
