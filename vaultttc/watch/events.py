"""The daemon's filesystem edge: watchdog events in, the processed-state file, the rescan walk.

`WatchdogSource` runs a watchdog Observer on the vault and hands each event, translated by
`schedule.classify`, to the daemon from watchdog's thread; `ScriptedSource` is the same seam fed
by hand. `survey` walks the vault and finds the notes whose bytes differ from the ones last
processed (stat first, hashing only notes whose size or mtime moved). The state file
`.vaultttc/watch-state.jsonl` keeps what was processed across restarts, so a note changed while
the daemon was down runs at start-up: a snapshot (rewritten at start-up, shutdown and when the
journal grows long) followed by a journal of one line per change, so a run costs one short
append rather than a rewrite of the whole vault's state.

Must not: decide what runs when (that is `schedule.Scheduler`), parse notes, or write a note.
"""

from __future__ import annotations

import gc
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import (
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from vaultttc.config import CONFIG_DIR
from vaultttc.errors import VaultTTCError
from vaultttc.vault.files import digest, note_stats
from vaultttc.vault.index import stamp, trusted
from vaultttc.watch.schedule import Change, EventKind, classify

__all__ = [
    "EventSource",
    "ScriptedSource",
    "Seen",
    "Survey",
    "WatchdogSource",
    "append_state",
    "load_state",
    "save_state",
    "survey",
]

Deliver = Callable[[Sequence[Change]], None]
Reached = Callable[[str], None]
_BARRIER = "watch-barrier-"
_STATE_VERSION = 3  # 3: ctime, inode and the stat's time
_STAMPED = ("size", "mtime_ns", "ctime_ns", "ino", "seen_ns")
_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
    DirDeletedEvent, DirMovedEvent,
]  # fmt: skip


class EventSource(Protocol):
    """Where file changes come from. Both callbacks may be called from any thread."""

    def start(self, deliver: Deliver, reached: Reached) -> None: ...

    def barrier(self) -> str:
        """Make the source call `reached(token)` after every change it saw before this call."""
        ...

    def stop(self) -> None: ...


class ScriptedSource:
    """Changes fed by hand (`emit`), for tests and for driving the daemon from other tools."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._reached: Reached | None = None
        self._tokens = itertools.count()

    def start(self, deliver: Deliver, reached: Reached) -> None:
        self._deliver, self._reached = deliver, reached

    def emit(self, *changes: Change) -> None:
        if self._deliver is None:
            raise RuntimeError("the daemon has not started this source yet")
        self._deliver(changes)

    def barrier(self) -> str:
        token = f"scripted-{next(self._tokens)}"
        if self._reached is not None:
            self._reached(token)
        return token

    def stop(self) -> None:
        self._deliver = self._reached = None


class WatchdogSource:
    """A recursive watchdog watch on the vault root, translated into note `Change`s."""

    def __init__(self, root: Path, *, exclude: tuple[str, ...] = ()) -> None:
        self.root = root.resolve()
        self.exclude = exclude
        self._observer: Any = None
        self._tokens = itertools.count()

    def start(self, deliver: Deliver, reached: Reached) -> None:
        observer = Observer()
        handler = _Handler(self.root, self.exclude, deliver=deliver, reached=reached)
        try:
            observer.schedule(handler, str(self.root), recursive=True, event_filter=_EVENTS)
            observer.start()
        except OSError as exc:  # e.g. the inotify watch limit
            raise VaultTTCError(
                f"cannot watch {self.root}: {exc} (on Linux, a large vault may need a higher "
                "fs.inotify.max_user_watches)"
            ) from exc
        self._observer = observer

    def barrier(self) -> str:
        token = f"{_BARRIER}{os.getpid()}-{next(self._tokens)}"
        folder = self.root / CONFIG_DIR
        folder.mkdir(exist_ok=True)
        (folder / token).write_bytes(b"")
        return token

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        if observer is None:
            return
        # watchdog's inotify emitter may log a harmless error when stopped mid-read
        emitter_log = logging.getLogger("watchdog.observers.inotify")
        level = emitter_log.level
        emitter_log.setLevel(logging.CRITICAL)
        try:
            observer.stop()
            observer.join()
        finally:
            emitter_log.setLevel(level)


class _Handler(FileSystemEventHandler):
    """Runs on watchdog's thread: translate, filter cheaply, deliver."""

    def __init__(self, root: Path, exclude: tuple[str, ...], *, deliver: Deliver,
                 reached: Reached) -> None:  # fmt: skip
        self.prefix = str(root) + os.sep
        self.exclude = exclude
        self.deliver = deliver
        self.reached = reached
        self.barriers = str(root / CONFIG_DIR / _BARRIER)

    def dispatch(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        if src.startswith(self.barriers):
            if event.event_type == "created":
                self.reached(os.path.basename(src))
                Path(src).unlink(missing_ok=True)
            return
        kind = _kind(event)
        if kind is None:
            return
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        changes = classify(kind, self._rel(src), self._rel(dest), exclude=self.exclude)
        if changes:
            self.deliver(changes)

    def _rel(self, path: str) -> str:
        if not path.startswith(self.prefix):
            return ""
        rel = path[len(self.prefix) :]
        return rel if os.sep == "/" else rel.replace(os.sep, "/")


def _kind(event: FileSystemEvent) -> EventKind | None:
    if event.is_directory:
        return "dir_deleted" if event.event_type == "deleted" else None  # moves come per file
    kind = event.event_type
    if kind in ("created", "modified", "closed", "deleted", "moved"):
        return kind  # type: ignore[return-value]
    return None


# -- what was processed, across restarts ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """The processed bytes of a note: their hash, and the stat stamp they had (-1: not known),
    trusted as the vault index trusts one (`vault.index.trusted`: ctime and inode too, never
    within the timestamp window of the last change)."""

    hash: str
    size: int = -1
    mtime_ns: int = -1
    ctime_ns: int = -1
    ino: int = -1
    seen_ns: int = -1

    @classmethod
    def of(cls, content_hash: str, st: os.stat_result, *, seen_ns: int) -> Seen:
        return cls(content_hash, **stamp(st, seen_ns=seen_ns))

    def still(self, st: os.stat_result) -> bool:
        """The file still holds these bytes, by its stat alone."""
        return trusted(self._stamp(), st)

    def _stamp(self) -> dict[str, int]:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "ctime_ns": self.ctime_ns,
                "ino": self.ino, "seen_ns": self.seen_ns}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Survey:
    changed: tuple[str, ...]  # notes whose bytes are not the processed ones
    seen: dict[str, Seen]  # notes whose bytes are, with a fresh stat
    present: frozenset[str]


def survey(root: Path, known: Mapping[str, Seen], *, exclude: tuple[str, ...] = ()) -> Survey:
    """Walk the vault; hash only the notes whose stat stamp is not trusted (`Seen.still`)."""
    changed: list[str] = []
    seen: dict[str, Seen] = {}
    present: set[str] = set()
    base = root.resolve()
    cut = len(str(base)) + 1
    seen_ns = time.time_ns()  # before any stat: a stamp never looks older than it is
    # one scandir pass gives each note's stat; relative paths are sliced off as strings (a
    # `Path.relative_to` and a second `stat` per note were most of a large vault's start-up)
    for path, st in note_stats(base, exclude=exclude):
        rel = path[cut:].replace(os.sep, "/")
        present.add(rel)
        old = known.get(rel)
        if old is not None and old.still(st):
            seen[rel] = old
            continue
        try:
            if old is not None and digest(Path(path).read_bytes()) == old.hash:
                seen[rel] = Seen.of(old.hash, st, seen_ns=seen_ns)
            else:
                changed.append(rel)
        except OSError:
            continue  # deleted while we walked: its events say so
    return Survey(tuple(changed), seen, frozenset(present))


def load_state(path: Path) -> dict[str, Seen]:
    """The processed notes a previous daemon recorded: a snapshot, then its journal."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    if not lines or _row(lines[0]).get("version") != _STATE_VERSION:
        return {}
    notes: dict[str, Seen] = {}
    for row in _rows(lines[1:]):
        rel, content_hash = row.get("path"), row.get("hash")
        if not isinstance(rel, str):
            continue  # a line cut short by a crash
        if isinstance(content_hash, str):
            stamped = {k: int(row.get(k, -1)) for k in _STAMPED}
            notes[rel] = Seen(content_hash, **stamped)
        else:
            notes.pop(rel, None)
    return notes


def _rows(lines: list[str]) -> list[dict[str, Any]]:
    """The state's rows: one `json.loads` of them all with the collector paused (10k small
    dicts, parsed line by line, were a third of the start-up); line by line when a crash cut
    one short."""
    gc.disable()
    try:
        rows = json.loads("[" + ",".join(lines) + "]")
    except ValueError:
        rows = [_row(line) for line in lines]
    finally:
        gc.enable()
    return [row if isinstance(row, dict) else {} for row in rows]


def _row(line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except ValueError:
        return {}
    return row if isinstance(row, dict) else {}


def _lines(rows: Mapping[str, Seen | None]) -> str:
    return "".join(
        json.dumps({"path": rel, "hash": None} if seen is None else
                   {"path": rel, "hash": seen.hash, **seen._stamp()},
                   ensure_ascii=False) + "\n"
        for rel, seen in rows.items()
    )  # fmt: skip


def save_state(path: Path, notes: Mapping[str, Seen]) -> None:
    """Rewrite the state as one snapshot, atomically. Best effort: a lost state file only means
    notes are checked (and, being processed already, cost nothing) again."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"version": _STATE_VERSION}) + "\n"
        tmp.write_text(header + _lines(dict(sorted(notes.items()))), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def append_state(path: Path, rows: Mapping[str, Seen | None]) -> None:
    """Journal what changed (None: forgotten) after the snapshot; cheap enough for every run."""
    if not path.is_file():
        save_state(path, {rel: seen for rel, seen in rows.items() if seen is not None})
        return
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(_lines(rows))
    except OSError:
        return
