"""The vault's note index, `.vaultttc/index.json`: what `scan`, `run` and `watch` know about a
note without reading it again.

Each entry is keyed by the note's vault-relative path and holds the stat stamp it was read
under (size, mtime, ctime, inode), when that stat was taken, the content hash of the bytes, the
scan's description of the note (`language`, `blocks`, `error`) and, when a run found nothing to
ask in those bytes, the fingerprint of the settings it found that under (`idle`).

An entry is trusted without reading the file only when its stamp equals the file's and the stat
was taken well after the file's last change (`trusted`): an edit that keeps the size and puts
the mtime back still moves the ctime, which no user can set, and an edit landing within the
filesystem's timestamp granularity of the stat is caught because such a "racy" entry is never
trusted (git's index has the same rule). Anything else is re-read and compared by hash, which
is cheap next to a parse. The index is a cache: losing it, or two processes racing to write
it, costs time, never correctness.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultttc.config import CONFIG_DIR

__all__ = [
    "INDEX_FILE",
    "Entry",
    "RunIndex",
    "fingerprint",
    "index_path",
    "load_index",
    "save_index",
    "stamp",
    "trusted",
]

INDEX_FILE = "index.json"
_VERSION = 3  # 3: ctime, inode and the stat's time; `idle`
# Older than this at the time of the stat, a file's stamp is trusted (coarse timestamps are
# a jiffy on Linux, 2 s on FAT).
RACY_NS = 3_000_000_000
Entry = dict[str, Any]
_STAMP = ("size", "mtime_ns", "ctime_ns", "ino")


def stamp(st: os.stat_result, *, seen_ns: int) -> Entry:
    """The stat fields an entry is checked by, and when the stat was taken."""
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "ino": st.st_ino,
        "seen_ns": seen_ns,
    }


def trusted(entry: Mapping[str, Any], st: os.stat_result) -> bool:
    """The file still holds the bytes the entry describes, by its stat alone."""
    now = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if tuple(entry.get(k) for k in _STAMP) != now:
        return False
    seen = entry.get("seen_ns")
    return isinstance(seen, int) and seen - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_NS


def fingerprint(*parts: object) -> str:
    """A short, stable hash of what decides whether a note has anything to ask."""
    text = "\x1f".join(repr(p) for p in (_VERSION, *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class RunIndex:
    """The index as one run (or the daemon) uses it: entries read once, saved once."""

    notes: dict[str, Entry]
    idle: str  # the fingerprint under which "nothing to ask" holds for this run
    dirty: bool = field(default=False)

    def remember(self, rel: str, entry: Entry) -> None:
        self.notes[rel] = entry
        self.dirty = True

    def save(self, root: Path) -> None:
        if self.dirty:
            save_index(root, self.notes)
            self.dirty = False


def index_path(root: Path) -> Path:
    return root / CONFIG_DIR / INDEX_FILE


def load_index(root: Path) -> dict[str, Entry]:
    """The entries of the vault at `root`; empty when missing, unreadable or of another
    version."""
    try:
        text = index_path(root).read_text(encoding="utf-8")
    except OSError:
        return {}
    gc.disable()  # json.loads of a large index spends a third of its time in the collector
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    finally:
        gc.enable()
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        return {}
    notes = data.get("notes")
    return notes if isinstance(notes, dict) else {}


def save_index(root: Path, notes: Mapping[str, Entry]) -> None:
    """Best effort, atomically: the index is a cache, and a read-only vault still runs."""
    path = index_path(root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": _VERSION, "notes": notes}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        return
