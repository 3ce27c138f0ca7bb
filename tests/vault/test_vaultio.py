"""Notes on disk: atomic compare-and-swap saves, re-planning on concurrent edits, vault walks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vaultttc.errors import StaleNoteError
from vaultttc.vault.files import Loaded, digest, iter_notes, read_note, save_text, update_note


def test_save_replaces_atomically_and_keeps_mode(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("old\n")
    note.chmod(0o640)
    save_text(note, "new\n", expected=digest(b"old\n"), bom=False)
    assert note.read_text() == "new\n"
    assert stat.S_IMODE(note.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["n.md"]


def test_save_refuses_when_the_note_changed_since_it_was_read(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("user typed this\n")
    with pytest.raises(StaleNoteError):
        save_text(note, "vaultttc's plan\n", expected=digest(b"what we read\n"), bom=False)
    assert note.read_text() == "user typed this\n"
    assert [p.name for p in tmp_path.iterdir()] == ["n.md"], "temp file left behind"


def test_bom_is_written_back(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_bytes(b"\xef\xbb\xbf# T\n")
    loaded = read_note(note)
    assert loaded.note.bom and loaded.note.text == "# T\n"
    save_text(note, "# T2\n", expected=loaded.hash, bom=True)
    assert note.read_bytes() == b"\xef\xbb\xbf# T2\n"


def test_update_replans_on_the_users_new_text(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("# T\nline\n")
    seen: list[str] = []

    def plan(loaded: Loaded) -> str:
        seen.append(loaded.note.text)
        if len(seen) == 1:  # the author saves while vaultttc is planning
            note.write_text("# T\nline\nauthor's new line\n")
        return loaded.note.text + "vaultttc line\n"

    written = update_note(note, plan)
    assert note.read_text() == "# T\nline\nauthor's new line\nvaultttc line\n"
    assert written == note.read_text()
    assert len(seen) == 2


def test_update_gives_up_cleanly_when_the_note_keeps_changing(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("0\n")
    counter = iter(range(1, 100))

    def plan(loaded: Loaded) -> str:
        note.write_text(f"{next(counter)}\n")
        return "vaultttc\n"

    with pytest.raises(StaleNoteError):
        update_note(note, plan, attempts=3)
    assert note.read_text() == "3\n"


def test_update_writes_nothing_when_nothing_changes(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("same\n")
    before = note.stat().st_mtime_ns
    assert update_note(note, lambda loaded: loaded.note.text) is None
    assert note.stat().st_mtime_ns == before


def test_vault_walk_skips_ignored_and_excluded_folders_and_outside_links(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    for rel in ["a.md", "sub/b.md", ".obsidian/c.md", ".trash/d.md", ".vaultttc/e.md",
                "Templates/t.md", "sub/notes.txt"]:  # fmt: skip
        (vault / rel).parent.mkdir(parents=True, exist_ok=True)
        (vault / rel).write_text("x\n")
    outside = tmp_path / "outside.md"
    outside.write_text("secret\n")
    os.symlink(outside, vault / "link-out.md")
    os.symlink(vault / "a.md", vault / "link-in.md")
    os.symlink(tmp_path, vault / "loop")
    found = [p.relative_to(vault).as_posix() for p in iter_notes(vault, exclude=("Templates",))]
    assert found == ["a.md", "link-in.md", "sub/b.md"]


def test_a_symlinked_note_is_saved_through_the_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.md"
    target.write_text("old\n")
    link = tmp_path / "link.md"
    os.symlink(target, link)
    save_text(link, "new\n", expected=digest(b"old\n"), bom=False)
    assert link.is_symlink()
    assert target.read_text() == "new\n"


def test_the_temp_files_of_an_interrupted_save_are_swept(tmp_path: Path) -> None:
    import os
    import time

    from vaultttc.vault.files import sweep_temp_files

    old = tmp_path / "d" / ".n.md.abc123.vaultttc-tmp"
    old.parent.mkdir()
    old.write_text("half a note")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / ".m.md.def456.vaultttc-tmp"  # a save in flight: left alone
    fresh.write_text("x")
    hidden = tmp_path / ".obsidian" / ".x.md.1.vaultttc-tmp"
    hidden.parent.mkdir()
    hidden.write_text("x")
    os.utime(hidden, (time.time() - 3600, time.time() - 3600))
    assert sweep_temp_files(tmp_path, now=time.time()) == [old]
    assert not old.exists() and fresh.exists() and hidden.exists()
