"""The daemon's core with scripted events and a scripted clock: debounce, due queue, own saves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vaultttc.engine.report import NoteReport
from vaultttc.vault.files import digest
from vaultttc.watch.events import Seen, append_state, load_state, save_state, survey
from vaultttc.watch.note import status_line
from vaultttc.watch.schedule import Change, Finished, Scheduler, classify, is_note_path

D = 2.5


def changed(path: str, origin: str = "author") -> Change:
    return Change("changed", path, origin=origin)  # type: ignore[arg-type]


def run_once(s: Scheduler, path: str, *, now: float, result: Finished) -> None:
    [due] = s.take_due(now, 8)
    assert due.path == path
    s.finished(path, result, now)


def test_a_burst_of_saves_to_one_note_runs_it_once_after_it_is_quiet() -> None:
    s = Scheduler(D)
    for i in range(200):
        s.apply(changed("a.md"), now=i * 0.01)
    last = 199 * 0.01
    assert s.take_due(last + D - 0.001, 8) == []
    due = s.take_due(last + D, 8)
    assert [d.path for d in due] == ["a.md"]
    assert s.take_due(last + 100, 8) == []


def test_saves_to_many_notes_make_one_run_each() -> None:
    s = Scheduler(D)
    names = [f"n{i}.md" for i in range(500)]
    for name in names:
        s.apply(changed(name), now=0.0)
        s.apply(changed(name), now=0.001)
    taken: list[str] = []
    while batch := s.take_due(10.0, 8):
        assert len(batch) <= 8
        taken += [d.path for d in batch]
        for d in batch:
            s.finished(d.path, Finished("h"), 10.0)
    assert sorted(taken) == sorted(names)


def test_a_note_is_never_handed_out_while_it_runs_and_reruns_once_quiet() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    assert [d.path for d in s.take_due(D, 8)] == ["a.md"]
    s.apply(changed("a.md"), 3.0)  # the author types while it runs
    assert s.take_due(100.0, 8) == []
    s.finished("a.md", Finished("h1"), 100.0)
    assert [d.path for d in s.take_due(100.0, 8)] == ["a.md"]


def test_a_change_during_a_run_still_waits_for_quiet_after_it() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    s.take_due(D, 8)
    s.apply(changed("a.md"), 3.0)
    s.finished("a.md", Finished("h1"), 4.0)
    assert s.take_due(4.0, 8) == []
    assert [d.path for d in s.take_due(3.0 + D, 8)] == ["a.md"]


def test_own_save_is_recognised_by_its_hash() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    run_once(s, "a.md", now=D, result=Finished("before", written="after", writes=1))
    s.apply(changed("a.md", "vaultttc"), D + 0.01)  # the save's rename event
    [due] = s.take_due(2 * D + 1, 8)
    assert s.processed(due.path, "after")
    assert not s.processed(due.path, "something the author typed")


def test_own_save_event_may_arrive_before_the_run_reports() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    s.take_due(D, 8)
    s.apply(changed("a.md", "vaultttc"), D + 0.01)
    s.finished("a.md", Finished("before", written="after", writes=1), D + 0.02)
    assert s.processed("a.md", "after")


def test_an_edit_the_save_replanned_onto_is_not_taken_as_processed() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    s.take_due(D, 8)
    s.apply(changed("a.md"), D + 0.5)  # the author saved while the question was asked
    s.finished("a.md", Finished("before", written="merged", writes=1), D + 1)
    s.apply(changed("a.md", "vaultttc"), D + 1.01)  # arrives after the author's event
    assert not s.processed("a.md", "merged")
    assert [d.path for d in s.take_due(D + 10, 8)] == ["a.md"]


def test_an_edit_after_the_save_landed_does_not_spoil_the_saved_hash() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    s.take_due(D, 8)
    s.finished("a.md", Finished("before", written="after", writes=1), D + 1)
    s.apply(changed("a.md", "vaultttc"), D + 1.01)
    s.apply(changed("a.md"), D + 1.02)
    assert s.processed("a.md", "after")
    assert not s.processed("a.md", "newer")


def test_back_to_back_runs_match_late_save_events_in_order() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    s.take_due(D, 8)
    s.apply(changed("a.md"), D + 0.1)
    s.finished("a.md", Finished("c0", written="w1", writes=1), D + 0.2)
    s.take_due(2 * D + 1, 8)  # second run starts before the first save's event arrives
    s.apply(changed("a.md", "vaultttc"), 2 * D + 1.1)  # first save's event
    s.finished("a.md", Finished("w1'", written="w2", writes=1), 2 * D + 2)
    assert not s.processed("a.md", "w2"), "resolved by the first save's event"
    s.apply(changed("a.md", "vaultttc"), 2 * D + 2.1)
    assert s.processed("a.md", "w2")


def test_a_run_that_wrote_nothing_marks_what_it_read() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    run_once(s, "a.md", now=D, result=Finished("read"))
    assert s.processed("a.md", "read")
    s.apply(changed("a.md"), D + 1)
    run_once(s, "a.md", now=2 * D + 1, result=Finished(None))  # gone by the time it ran
    assert not s.processed("a.md", "read")


def test_a_refused_save_runs_again_once_quiet_even_on_the_bytes_it_read() -> None:
    """The author kept typing through every save attempt: the note runs again once quiet, and
    the bytes it read count as unprocessed (the author may have typed back to them)."""
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    run_once(s, "a.md", now=D, result=Finished("read", again=True))
    assert not s.processed("a.md", "read")
    assert s.take_due(D + D / 2, 8) == []  # not before the note has been quiet for a while
    run_once(s, "a.md", now=2 * D, result=Finished("read", "saved", 1))
    assert s.take_due(10 * D, 8) == []  # saved: nothing more to do


def test_a_deleted_notes_pending_work_is_dropped() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    s.apply(Change("deleted", "a.md"), 0.5)
    assert s.take_due(100.0, 8) == [] and s.idle


def test_a_folder_deleted_drops_the_work_of_every_note_in_it() -> None:
    s = Scheduler(D)
    for name in ("x/a.md", "x/y/b.md", "xa.md"):
        s.apply(changed(name), 0.0)
    s.apply(Change("folder_deleted", "x"), 0.5)
    assert [d.path for d in s.take_due(100.0, 8)] == ["xa.md"]


def test_a_rename_carries_what_was_processed() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    run_once(s, "a.md", now=D, result=Finished("h"))
    s.apply(Change("moved", "a.md", "b.md"), 10.0)
    [due] = s.take_due(10.0 + D, 8)
    assert due.path == "b.md" and s.processed("b.md", "h")


def test_a_rename_of_a_pending_note_moves_its_work() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    s.apply(Change("moved", "a.md", "b.md"), 0.1)
    assert [d.path for d in s.take_due(100.0, 8)] == ["b.md"]


def test_failed_notes_are_retried_at_a_rescan_even_if_unchanged() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    run_once(s, "a.md", now=D, result=Finished("h", retry=True))
    assert s.take_due(100.0, 8) == []
    assert s.retry_failed(100.0) == ["a.md"]
    [due] = s.take_due(100.0 + D, 8)
    assert due.force


def test_lost_save_events_expire_and_counting_resyncs() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md"), 0.0)
    run_once(
        s, "a.md", now=D, result=Finished("c", written="w1", writes=1)
    )  # its event never comes
    s.expire(1000.0, older_than=60.0)
    s.apply(changed("a.md"), 1000.0)
    run_once(s, "a.md", now=1000.0 + D, result=Finished("c2", written="w2", writes=1))
    s.apply(changed("a.md", "vaultttc"), 1010.0)
    assert s.processed("a.md", "w2")


def test_snapshot_restore_and_forgetting_missing_notes() -> None:
    s = Scheduler(D)
    s.restore({"a.md": "ha", "b.md": "hb"})
    s.forget_missing({"a.md"})
    assert s.snapshot() == {"a.md": "ha"}


@pytest.mark.parametrize(
    ("rel", "note"),
    [
        ("a.md", True),
        ("sub/dir/a.md", True),
        ("a.md~", False),
        (".a.md.x1y2.vaultttc-tmp", False),
        ("4913", False),
        (".a.md.swp", False),
        (".#a.md", False),
        (".obsidian/workspace.md", False),
        (".vaultttc/x.md", False),
        (".trash/old.md", False),
        ("sub/.hidden/a.md", False),
        ("archive/a.md", False),
        ("archived.md", True),
        ("", False),
    ],
)
def test_which_paths_are_notes(rel: str, note: bool) -> None:
    assert is_note_path(rel, exclude=("archive",)) is note


def test_classify_tells_editor_saves_from_vaultttcs_own() -> None:
    assert classify("moved", ".a.md.k3j.vaultttc-tmp", "a.md") == [changed("a.md", "vaultttc")]
    assert classify("moved", "a.md.tmp", "a.md") == [changed("a.md")]
    assert classify("moved", "a.md", "b.md") == [Change("moved", "a.md", "b.md")]
    assert classify("moved", "a.md", "a.md~") == [Change("deleted", "a.md")]
    assert classify("moved", "a.md", "") == [Change("deleted", "a.md")]
    assert classify("moved", "", "a.md") == [changed("a.md")]
    assert classify("created", ".a.md.k3j.vaultttc-tmp") == []
    assert classify("dir_deleted", "sub") == [Change("folder_deleted", "sub")]


def test_a_vim_save_sequence_runs_the_note_once() -> None:
    s = Scheduler(D)
    events = [("created", "4913", ""), ("deleted", "4913", ""), ("moved", "a.md", "a.md~"),
              ("created", "a.md", ""), ("modified", "a.md", ""), ("closed", "a.md", ""),
              ("deleted", "a.md~", "")]  # fmt: skip
    for i, (kind, src, dest) in enumerate(events):
        for change in classify(kind, src, dest):  # type: ignore[arg-type]
            s.apply(change, i * 0.001)
    assert [d.path for d in s.take_due(100.0, 8)] == ["a.md"]


def test_the_state_journal_survives_restarts_and_a_torn_last_line(tmp_path: Path) -> None:
    state = tmp_path / ".vaultttc" / "watch-state.jsonl"
    save_state(state, {"a.md": Seen("ha", 10, 1), "b.md": Seen("hb", 20, 2)})
    append_state(state, {"a.md": Seen("ha2"), "b.md": None, "c.md": Seen("hc", 30, 3)})
    with state.open("a", encoding="utf-8") as handle:
        handle.write('{"path": "c.md", "hash": "h-torn')  # killed mid-append
    assert load_state(state) == {"a.md": Seen("ha2"), "c.md": Seen("hc", 30, 3)}
    save_state(state, load_state(state))
    assert len(state.read_text(encoding="utf-8").splitlines()) == 3


def test_the_survey_hashes_only_notes_whose_stat_moved(tmp_path: Path) -> None:
    (tmp_path / "same.md").write_text("same")
    (tmp_path / "touched.md").write_text("touched")
    (tmp_path / "edited.md").write_text("new text")
    (tmp_path / "new.md").write_text("new")
    (tmp_path / ".obsidian").mkdir()
    (tmp_path / ".obsidian" / "x.md").write_text("not a note")
    same = (tmp_path / "same.md").stat()
    an_hour_later = max(same.st_mtime_ns, same.st_ctime_ns) + 3600 * 10**9
    known = {
        "same.md": Seen.of("not even the real hash", same, seen_ns=an_hour_later),
        "touched.md": Seen(digest(b"touched"), 0, 0),
        "edited.md": Seen(digest(b"old text"), 0, 0),
        "gone.md": Seen("h"),
    }
    found = survey(tmp_path, known)
    assert sorted(found.changed) == ["edited.md", "new.md"]
    assert found.seen["touched.md"].size == len("touched") and "same.md" in found.seen
    assert found.present == {"same.md", "touched.md", "edited.md", "new.md"}


def test_the_survey_sees_an_edit_that_kept_the_size_and_put_the_mtime_back(
    tmp_path: Path,
) -> None:
    note = tmp_path / "n.md"
    note.write_text("6 times 7")
    st = note.stat()
    known = {"n.md": Seen.of(digest(b"6 times 7"), st, seen_ns=st.st_ctime_ns + 3600 * 10**9)}
    assert survey(tmp_path, known).changed == ()
    note.write_text("7 times 6")
    os.utime(note, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert survey(tmp_path, known).changed == ("n.md",)


def test_status_lines_point_at_the_note_and_say_what_happened() -> None:
    broken = NoteReport("d/b.md", error="d/b.md:3: malformed frontmatter: x")
    assert status_line(broken, seconds=0.1) == "d/b.md:3: skipped: malformed frontmatter: x"
    assert status_line(NoteReport("a.md"), seconds=0.25) == "a.md: up to date (0.25s)"
    kept = NoteReport("r.md", skipped="read-only: left alone")  # it has a question to ask
    assert status_line(kept, seconds=0.1) == "r.md: skipped: read-only: left alone (0.10s)"


def test_a_save_by_another_vaultttc_process_does_not_count_as_the_daemons() -> None:
    s = Scheduler(D)
    s.apply(changed("a.md", "vaultttc"), 0.0)  # `vaultttc run` saved it; the daemon was idle
    [due] = s.take_due(D, 8)
    assert not s.processed(due.path, "what vaultttc run wrote")
    s.finished("a.md", Finished("r", written="merged", writes=1), D + 1)
    s.apply(changed("a.md"), D + 1.1)  # the author's edit the save re-planned onto, late
    s.apply(changed("a.md", "vaultttc"), D + 1.2)  # then the daemon's own save
    assert not s.processed("a.md", "merged"), "resolved by the other process's save"
