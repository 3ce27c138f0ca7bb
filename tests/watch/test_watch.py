"""`vaultttc watch` in-process: real watchdog events on a temp vault, the replay provider.

Each test starts the daemon on its own thread and event loop, edits notes the way editors do,
and waits (`helpers.eventually`) for the state it needs on disk and in the daemon's counters;
`settle()` waits until every change seen so far has been handled, so "no further run" can be
asserted without timing anything. Nothing here sleeps a guessed time or depends on how many
periodic rescans a slow machine happened to fit in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import eventually
from stub_server import Reply, StubServer, chat_body

from vaultttc.engine.runner import RunOptions
from vaultttc.notes.clean import clean_text
from vaultttc.vault.files import read_note
from vaultttc.vault.session import RunContext, VaultSession, vaults_for
from vaultttc.watch.command import Daemon, WatchSettings
from vaultttc.watch.events import EventSource, ScriptedSource, WatchdogSource

END = "%% vaultttc:end %%"


def question(q: str, expect: str, *, extra: str = "") -> str:
    block = f"> [!question] {q}\n> expect:: {expect}\n> strategy:: direct\n"
    return f"# Note\n\nSome prose.\n\n{block}\n{extra}"


def sums(n: int) -> list[tuple[str, str]]:
    return [(f"What is {1000 + i} plus {7 * i}?", str(1000 + 8 * i)) for i in range(n)]


def write_replay(path: Path, pairs: list[tuple[str, str]]) -> Path:
    lines = [json.dumps({"question": q, "samples": [f"The answer is {a}."]}) for q, a in pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def after_the_one_write(lines: list[str], rel: str) -> list[str]:
    """The note's status lines after the run that wrote it, which must be its only write."""
    mine = [line for line in lines if line.startswith(f"{rel}: ")]
    writes = [i for i, line in enumerate(mine) if "written" in line]
    assert len(writes) == 1, lines
    return mine[writes[0] + 1 :]


def answered(path: Path) -> bool:
    try:
        return END in path.read_text(encoding="utf-8")
    except OSError:
        return False


@dataclass
class Running:
    """A daemon on its own thread; `lines` are its status lines."""

    daemon: Daemon
    loop: asyncio.AbstractEventLoop
    lines: list[str] = field(default_factory=list)

    def settle(self) -> None:
        asyncio.run_coroutine_threadsafe(self.daemon.settle(), self.loop).result(timeout=60)

    def runs(self, rel: str) -> int:
        return self.daemon.stats.by_note[rel]


@contextlib.contextmanager
def watching(root: Path, provider: str, *, source: EventSource | None = None,
             **settings: Any) -> Iterator[Running]:  # fmt: skip
    [vault] = vaults_for([root])
    context = RunContext(options=RunOptions(cli={"provider": provider}), env={})
    started: dict[str, Running] = {}
    ready = threading.Event()
    lines: list[str] = []

    async def main() -> None:
        session = VaultSession.open(vault, context)
        feed = source or WatchdogSource(vault.root, exclude=vault.config.exclude)
        daemon = Daemon(session, feed, WatchSettings(**{"debounce_s": 0.2, **settings}),
                        status=lines.append)  # fmt: skip
        started["r"] = Running(daemon, asyncio.get_running_loop(), lines)
        ready.set()
        try:
            await daemon.run()
        finally:
            await session.aclose()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    running = started["r"]
    assert running.daemon.ready.wait(30), "the daemon did not start watching"
    try:
        yield running
    finally:
        running.daemon.request_stop()
        thread.join(30)
        assert not thread.is_alive(), "the daemon did not stop"


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / ".vaultttc").mkdir(parents=True)
    return root


def test_editing_a_note_produces_its_answer_and_its_own_write_no_run(
    vault: Path, tmp_path: Path
) -> None:
    [(q, a)] = sums(1)
    replay = write_replay(tmp_path / "r.jsonl", [(q, a)])
    note = vault / "a.md"
    note.write_text("# Draft\n", encoding="utf-8")
    with watching(vault, f"replay:{replay}") as w:
        eventually(lambda: w.runs("a.md") == 1, "the start-up catch-up run")
        note.write_text(question(q, a), encoding="utf-8")  # an in-place save
        eventually(lambda: answered(note), "the answer on disk")
        w.settle()
        after = note.read_bytes()
        assert w.daemon.stats.skipped >= 1, "the daemon's own save was never looked at"
        w.settle()
        assert note.read_bytes() == after
    # Every run says a line; the last one for a.md is the run that wrote the answer.
    assert w.runs("a.md") == len([ln for ln in w.lines if ln.startswith("a.md: ")]), w.lines
    assert after_the_one_write(w.lines, "a.md") == [], "its own save made a run"
    text = after.decode()
    assert text.startswith("---\n") and "verification_status: verified" in text
    [asked] = read_note(note).note.questions
    assert asked.answer is not None and a in asked.answer.body and "Some prose." in text
    assert any(line.startswith("a.md: 1 asked") and "written" in line for line in w.lines)


def test_two_hundred_saves_within_the_debounce_window_make_one_run(
    vault: Path, tmp_path: Path
) -> None:
    [(q, a)] = sums(1)
    replay = write_replay(tmp_path / "r.jsonl", [(q, a)])
    note = vault / "busy.md"
    with watching(vault, f"replay:{replay}", debounce_s=1.0) as w:
        for i in range(200):
            note.write_text(question(q, a, extra=f"typing {i}\n"), encoding="utf-8")
        eventually(lambda: answered(note), "the answer")
        w.settle()
        assert w.runs("busy.md") == 1, w.lines
    assert "typing 199" in note.read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_burst_of_saves_to_five_hundred_notes_makes_exactly_five_hundred_runs(
    vault: Path, tmp_path: Path
) -> None:
    pairs = sums(500)
    replay = write_replay(tmp_path / "r.jsonl", pairs)
    folder = vault / "burst"
    folder.mkdir()
    with watching(vault, f"replay:{replay}") as w:
        for i, (q, a) in enumerate(pairs):
            tmp = folder / f".n{i}.md.swp"
            tmp.write_text(question(q, a), encoding="utf-8")
            os.replace(tmp, folder / f"n{i:03d}.md")  # an atomic editor save
        eventually(lambda: w.daemon.stats.runs >= 500, "500 runs", timeout=300)
        w.settle()
        assert w.daemon.stats.runs == 500
        assert set(w.daemon.stats.by_note.values()) == {1}
    missing = [p.name for p in sorted(folder.glob("*.md")) if not answered(p)]
    assert missing == []


def test_an_edit_made_while_the_question_is_asked_survives(vault: Path) -> None:
    release = threading.Event()

    def slow(body: dict[str, Any]) -> Reply:
        release.wait(30)
        return Reply(body=chat_body("The answer is 24."))

    stub = StubServer().start()
    try:
        stub.enqueue("chat", *([slow] * 4))
        (vault / ".vaultttc" / "config.toml").write_text(
            f'[providers.openai-compatible]\nbase_url = "{stub.openai_url}"\n'
            'model = "stub-model"\n', encoding="utf-8")  # fmt: skip
        note = vault / "n.md"
        with watching(vault, "openai-compatible") as w:
            note.write_text(question("How many divisors does 360 have?", "24"),
                            encoding="utf-8")  # fmt: skip
            eventually(lambda: stub.count("chat") >= 1, "the question in flight")
            with note.open("a", encoding="utf-8") as handle:
                handle.write("The author kept typing this line.\n")
            asked = stub.count("chat")
            release.set()
            eventually(lambda: answered(note), "the answer")
            w.settle()
            assert stub.count("chat") == asked, "the unchanged question was asked again"
    finally:
        release.set()
        stub.stop()
    loaded = read_note(note)
    [asked] = loaded.note.questions
    assert "The author kept typing this line." in loaded.note.text
    assert asked.answer is not None and "24" in asked.answer.body


def test_temp_file_saves_vim_saves_and_renames(vault: Path, tmp_path: Path) -> None:
    (q1, a1), (q2, a2) = sums(2)
    replay = write_replay(tmp_path / "r.jsonl", [(q1, a1), (q2, a2)])
    atomic, vim = vault / "atomic.md", vault / "vim.md"
    with watching(vault, f"replay:{replay}") as w:
        tmp = vault / "atomic.md.tmp"
        tmp.write_text(question(q1, a1), encoding="utf-8")
        os.replace(tmp, atomic)
        vim.write_text("# Vim\n", encoding="utf-8")
        w.settle()
        (vault / "4913").write_text("")  # vim probes the folder, then renames to a backup
        (vault / "4913").unlink()
        os.rename(vim, vault / "vim.md~")
        vim.write_text(question(q2, a2), encoding="utf-8")
        (vault / "vim.md~").unlink()
        eventually(lambda: answered(atomic) and answered(vim), "both answers")
        w.settle()
        assert (w.runs("atomic.md"), w.runs("vim.md")) == (1, 2), w.lines
        os.rename(atomic, vault / "renamed.md")  # a note rename is not a change
        w.settle()
        assert w.runs("renamed.md") == 0 and w.runs("atomic.md") == 1
    assert answered(vault / "renamed.md")


def test_a_deleted_notes_pending_work_is_dropped(vault: Path, tmp_path: Path) -> None:
    [(q, a)] = sums(1)
    replay = write_replay(tmp_path / "r.jsonl", [(q, a)])
    with watching(vault, f"replay:{replay}", debounce_s=1.0) as w:
        doomed = vault / "doomed.md"
        doomed.write_text(question(q, a), encoding="utf-8")
        doomed.unlink()
        w.settle()
        assert w.daemon.stats.runs == 0


def test_bad_notes_are_reported_once_per_change_and_never_stop_the_daemon(
    vault: Path, tmp_path: Path
) -> None:
    [(q, a)] = sums(1)
    replay = write_replay(tmp_path / "r.jsonl", [(q, a)])
    binary, broken, good = vault / "binary.md", vault / "broken.md", vault / "good.md"
    with watching(vault, f"replay:{replay}") as w:
        binary.write_bytes(b"\x00\x01PNG\x00" * 20)
        broken.write_text("---\ntitle: [unclosed\n---\n# Broken\n", encoding="utf-8")
        good.write_text(question(q, a), encoding="utf-8")
        eventually(lambda: answered(good), "the good note's answer")
        w.settle()
        broken.write_text(broken.read_text(encoding="utf-8"), encoding="utf-8")  # same bytes
        w.settle()
        assert [ln for ln in w.lines if ln.startswith("broken.md")] == [
            next(ln for ln in w.lines if ln.startswith("broken.md"))
        ]
        broken.write_text("---\ntitle: [still unclosed\n---\n", encoding="utf-8")
        w.settle()
        bad = [ln for ln in w.lines if ln.startswith(("binary.md", "broken.md"))]
    assert len(bad) == 3 and all("skipped" in ln for ln in bad), bad
    assert binary.read_bytes().startswith(b"\x00\x01PNG")


def test_notes_changed_while_the_daemon_was_down_run_at_start_up(
    vault: Path, tmp_path: Path
) -> None:
    (q1, a1), (q2, a2), (q3, a3) = sums(3)
    replay = write_replay(tmp_path / "r.jsonl", [(q1, a1), (q2, a2), (q3, a3)])
    kept, edited = vault / "kept.md", vault / "edited.md"
    kept.write_text(question(q1, a1), encoding="utf-8")
    edited.write_text("# Later\n", encoding="utf-8")
    with watching(vault, f"replay:{replay}") as w:
        eventually(lambda: answered(kept), "the first answer")
        w.settle()
    edited.write_text(question(q2, a2), encoding="utf-8")  # while nobody watches
    (vault / "new.md").write_text(question(q3, a3), encoding="utf-8")
    with watching(vault, f"replay:{replay}") as w:
        eventually(lambda: answered(edited) and answered(vault / "new.md"), "catch-up answers")
        w.settle()
        assert (w.runs("kept.md"), w.runs("edited.md"), w.runs("new.md")) == (0, 1, 1)


def test_a_periodic_rescan_catches_changes_no_event_reported(vault: Path, tmp_path: Path) -> None:
    [(q, a)] = sums(1)
    replay = write_replay(tmp_path / "r.jsonl", [(q, a)])
    silent = ScriptedSource()  # the OS dropped every event
    note = vault / "quiet.md"
    with watching(vault, f"replay:{replay}", source=silent, rescan_s=0.3) as w:
        note.write_text(question(q, a), encoding="utf-8")
        eventually(lambda: answered(note), "a rescan to find the note and answer it")
        w.settle()
        assert w.runs("quiet.md") >= 1
    # Rescans go on every 0.3 s and, with no event to confirm the daemon's own save, may look
    # at the note again; how many passes fit in depends on the machine. What the author gets
    # does not: one right answer, written once, the prose kept, nothing asked again.
    later = after_the_one_write(w.lines, "quiet.md")
    assert all(line.startswith("quiet.md: up to date") for line in later), w.lines
    loaded = read_note(note)
    [asked] = loaded.note.questions
    assert asked.answer is not None and a in asked.answer.body
    assert loaded.note.text.count(END) == 1 and "Some prose." in loaded.note.text


def test_with_execution_allowed_examples_run_and_their_outcome_is_recorded(
    vault: Path, tmp_path: Path
) -> None:
    replay = write_replay(tmp_path / "r.jsonl", sums(1))
    note = vault / "howto.md"
    with watching(vault, f"replay:{replay}", allow_exec=True) as w:
        note.write_text("# How to add\n\n```python\nprint(40 + 2)\n```\n\n```output\n42\n```\n",
                        encoding="utf-8")  # fmt: skip
        eventually(lambda: "verification_status: verified" in note.read_text(encoding="utf-8"),
                   "the recorded outcome")  # fmt: skip
        w.settle()
    assert after_the_one_write(w.lines, "howto.md") == [], "its own saves made a run"
    text = note.read_text(encoding="utf-8")
    assert "examples: 1 passed" in text and "print(40 + 2)" in text


@pytest.mark.parametrize("undo", [False, True], ids=["keeps typing", "types, then undoes it all"])
def test_an_author_who_keeps_typing_gets_the_answer_once_they_pause(
    vault: Path, undo: bool
) -> None:
    """Saves collide with the author's edits for as long as they type; once they pause, the
    answer lands, once, and the bytes they left are kept, even when those are the very bytes
    the refused save had read."""
    release, typing, typed = threading.Event(), threading.Event(), threading.Event()
    head = question("How many divisors does 360 have?", "24")
    start, keys = head + "Notes: ", "".join(f"{i % 10}" for i in range(1500))
    tail = "Notes: " if undo else "Notes: " + keys + "\nThe author's last line.\n"

    def slow(body: dict[str, Any]) -> Reply:
        release.wait(30)
        return Reply(body=chat_body("The answer is 24."))

    def type_for_a_while(note: Path) -> None:
        for i, key in enumerate(keys):  # ~3 s of keystrokes, each a save: never quiet for 0.2 s
            with note.open("a", encoding="utf-8") as handle:
                handle.write(key)
            if i == 20:
                typing.set()
            threading.Event().wait(0.002)
        note.write_text(head + tail, encoding="utf-8")  # the editor's last save
        typed.set()

    stub = StubServer().start()
    try:
        stub.enqueue("chat", slow)
        (vault / ".vaultttc" / "config.toml").write_text(
            f'[providers.openai-compatible]\nbase_url = "{stub.openai_url}"\n'
            'model = "stub-model"\n', encoding="utf-8")  # fmt: skip
        note = vault / "n.md"
        with watching(vault, "openai-compatible") as w:
            note.write_text(start, encoding="utf-8")
            eventually(lambda: stub.count("chat") >= 1, "the question in flight")
            typist = threading.Thread(target=type_for_a_while, args=(note,))
            typist.start()
            assert typing.wait(30)
            release.set()  # the answer comes back while the author is still typing
            typist.join(60)
            assert typed.is_set()
            eventually(lambda: answered(note), "the answer, once the author paused")
            w.settle()
            assert stub.count("chat") == 1, "the question was asked again"
    finally:
        release.set()
        stub.stop()
    loaded = read_note(note)
    assert loaded.note.text.count(END) == 1
    [asked] = loaded.note.questions
    assert asked.answer is not None and "24" in asked.answer.body
    assert clean_text(loaded.note) == head + tail  # every byte the author left, and no other
