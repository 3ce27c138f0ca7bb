"""Notes on disk: decoding, atomic compare-and-swap saves, and walking a vault by its rule.

This is the IO edge for notes. A save writes a temp file in the note's folder, fsyncs it, keeps
the file mode, and replaces the note only if its bytes are still the ones that were read; a
changed note raises `StaleNoteError` and `update_note` re-plans on the new text. A crash leaves
either the old note or the new one, never half of either. (The folder is not fsynced after the
rename: that would only make the new note durable sooner; a crash before the folder reaches
disk leaves the old note, whose question the next run asks again.)
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vaultttc.errors import NoteError, StaleNoteError
from vaultttc.notes.model import Note
from vaultttc.vault.rule import TEMP_SUFFIX, NoteRule

__all__ = [
    "Loaded",
    "decode",
    "digest",
    "encode",
    "find_vault_root",
    "iter_notes",
    "note_stats",
    "read_note",
    "replace_atomically",
    "save_text",
    "sweep_temp_files",
    "update_note",
]

BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class Loaded:
    """A note as read: its parsed model and the hash of the exact bytes read."""

    path: Path
    note: Note
    hash: str


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes, path: str) -> str:
    """UTF-8 text of a note (BOM kept), or a `NoteError` naming the line of the bad byte."""
    if b"\x00" in data[:8192]:
        raise NoteError(path, 0, "is a binary file, not a Markdown note")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise NoteError(path, line, f"is not valid UTF-8 (byte 0x{bad})") from None


def read_note(path: Path, *, display: str | None = None, reuse: Loaded | None = None) -> Loaded:
    """Read and parse a note; `reuse` (an earlier read) is returned, not parsed again, when the
    bytes on disk still hash to it."""
    from vaultttc.notes.parse import parse_note  # imported when a note is parsed, not on a stat

    data = path.read_bytes()
    content_hash = digest(data)
    if reuse is not None and reuse.hash == content_hash:
        return reuse
    name = display or str(path)
    return Loaded(path, parse_note(decode(data, name), name), content_hash)


def encode(text: str, *, bom: bool) -> bytes:
    return ((BOM if bom else "") + text).encode("utf-8")


def save_text(path: Path, text: str, *, expected: str, bom: bool) -> str:
    """Atomically replace `path` with `text` if its bytes still hash to `expected`.

    Returns the new content hash. Raises `StaleNoteError` and leaves the note alone when it
    changed since it was read.
    """
    data = encode(text, bom=bom)
    path = path.resolve()  # a symlinked note is saved through the link, which stays a link

    def unchanged() -> None:
        if digest(path.read_bytes()) != expected:
            raise StaleNoteError(f"{path}: changed on disk while vaultttc worked; not written")

    replace_atomically(path, data, mode=stat.S_IMODE(path.stat().st_mode), check=unchanged)
    return digest(data)


def replace_atomically(
    path: Path, data: bytes, *, mode: int, check: Callable[[], None] | None = None
) -> None:
    """Write `data` to a temp file beside `path`, fsync it, give it `mode`, run `check` (which
    may refuse by raising), then rename it over `path`: a crash leaves the old file or the new
    one, and a refusal leaves no temp file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if check is not None:
            check()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update_note(
    path: Path,
    plan: Callable[[Loaded], str | None],
    *,
    attempts: int = 3,
    display: str | None = None,
    first: Loaded | None = None,
) -> str | None:
    """Read, plan the new text, compare-and-swap; on a concurrent edit, re-plan on the new text.

    `plan` returns the new text, or None when nothing should change. Returns the text written,
    or None when nothing was. Gives up with `StaleNoteError` after `attempts` collisions.
    `first` is the read the caller planned from: while the bytes are unchanged it is not
    parsed again.
    """
    for _ in range(attempts):
        loaded = read_note(path, display=display, reuse=first)
        text = plan(loaded)
        if text is None or text == loaded.note.text:
            return None
        try:
            save_text(path, text, expected=loaded.hash, bom=loaded.note.bom)
        except StaleNoteError:
            continue
        return text
    raise StaleNoteError(f"{display or path}: kept changing while vaultttc tried to save; skipped")


def find_vault_root(start: Path) -> Path:
    """The nearest folder at or above `start` holding `.vaultttc/` or `.obsidian/`; else
    `start` itself (a plain folder of notes is its own vault)."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".vaultttc").is_dir() or (folder / ".obsidian").is_dir():
            return folder
    return here


def iter_notes(
    root: Path, start: Path | None = None, *, exclude: tuple[str, ...] = ()
) -> Iterator[Path]:
    """The notes under `start` (default: the whole vault at `root`) in sorted order, by the
    vault's one rule (`vault.rule.NoteRule`); `exclude` is the config's, vault-relative."""
    for path, _ in note_stats(root, start, exclude=exclude):
        yield Path(path)


def note_stats(
    root: Path, start: Path | None = None, *, exclude: tuple[str, ...] = ()
) -> Iterator[tuple[str, os.stat_result]]:
    """`iter_notes` with each note's stat, from one `scandir` pass (no second stat call).

    A `start` that is a file is taken as named. Symlinked folders are not followed; a
    symlinked note counts only when it points at a file inside the vault. FIFOs, sockets and
    devices are never notes (reading one would hang or mislead)."""
    start = root if start is None else start
    if start.is_file():
        yield str(start), start.stat()
        return
    rule, base = NoteRule(exclude), root.resolve()
    top = start.resolve().relative_to(base).as_posix()
    stack = [(str(start), "" if top == "." else top)]
    while stack:
        folder, rel_folder = stack.pop()
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        folders: list[tuple[str, str]] = []
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            if entry.is_dir(follow_symlinks=False):
                if rule.enters(rel):
                    folders.append((entry.path, rel))
            elif rule.is_note(rel) and _regular(entry, base):
                yield entry.path, entry.stat()
        stack.extend(reversed(folders))


def _regular(entry: os.DirEntry[str], base: Path) -> bool:
    if not entry.is_symlink():
        return entry.is_file(follow_symlinks=False)
    try:
        target = Path(entry.path).resolve()
        return target.is_relative_to(base) and target.is_file()
    except (OSError, RuntimeError):  # a symlink loop
        return False


def sweep_temp_files(root: Path, *, now: float, older_than_s: float = 600.0) -> list[Path]:
    """Remove the temp files of saves that a kill interrupted (`.<note>.<random>.vaultttc-tmp`,
    older than `older_than_s`, so a save in flight elsewhere is never touched)."""
    removed: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
                continue
            path = Path(folder) / name
            try:
                if now - path.lstat().st_mtime > older_than_s:
                    path.unlink()
                    removed.append(path)
            except OSError:
                continue
    return removed
