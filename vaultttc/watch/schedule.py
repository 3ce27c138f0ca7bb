"""The daemon's core: which notes to run, and when, from a stream of file changes and a clock.

`classify` turns one raw file event (kind, source, destination; paths relative to the vault)
into `Change`s about notes. `Scheduler` is the state machine the daemon drives: changes arrive
with `apply(change, now)`, a note becomes due once it has been quiet for the debounce period,
`take_due` hands out due notes (never one that is running), and `finished` records what a run
read and wrote.

A note's own saves are recognised by content hash: a run that writes records the hash of its
bytes, and the note counts as processed once the rename event of that write has arrived with no
author change between the run's start and that event (inotify delivers a folder's events in
order, so an author's edit that a compare-and-swap save re-planned onto is always seen first).
A dispatched note whose bytes hash to the processed hash is skipped without a run.

Pure: no IO, no threads, no clock of its own (every call gets `now`); must not read files or
import watchdog.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from vaultttc.vault.rule import TEMP_SUFFIX, NoteRule

__all__ = ["Change", "Due", "Finished", "Scheduler", "classify", "is_note_path", "retry_delay"]

Kind = Literal["changed", "deleted", "moved", "folder_deleted"]
Origin = Literal["author", "vaultttc", "scan"]
EventKind = Literal["created", "modified", "closed", "deleted", "moved", "dir_deleted"]


@dataclass(frozen=True, slots=True)
class Change:
    """Something happened to the note at `path` (vault-relative, `/`-separated).

    `origin` says who: the author (any editor), vaultttc (its temp file renamed onto the note)
    or a rescan that found the bytes differ from the processed ones. `dest` is set for moves.
    """

    kind: Kind
    path: str
    dest: str = ""
    origin: Origin = "author"


@dataclass(frozen=True, slots=True)
class Due:
    path: str
    force: bool = False  # run even if the bytes were processed (a retry after an error)


@dataclass(frozen=True, slots=True)
class Finished:
    """What a run of one note did. `read_hash` is the hash of the bytes read before it ran
    (None: unreadable or gone); `written` the hash of the last bytes it wrote and `writes` how
    many saves it made; `retry` asks for another try at the next rescan (a question errored);
    `again` for another run once the note is quiet (its save was refused: the author kept
    editing), whether or not their edits' events come."""

    read_hash: str | None
    written: str | None = None
    writes: int = 0
    retry: bool = False
    again: bool = False


RETRY_BASE_S = 60.0
RETRY_MAX_S = 3600.0


def retry_delay(attempts: int) -> float:
    """Backoff after `attempts` runs in a row that could not answer: 1, 2, 4 … 60 minutes."""
    return min(RETRY_MAX_S, RETRY_BASE_S * float(2 ** max(0, attempts - 1)))


def is_note_path(rel: str, *, exclude: tuple[str, ...] = ()) -> bool:
    """Whether a vault-relative path names a note: the vault's one rule (`vault.rule`)."""
    return NoteRule(exclude).is_note(rel)


def classify(kind: EventKind, src: str, dest: str = "", *, exclude: tuple[str, ...] = ()
             ) -> list[Change]:  # fmt: skip
    """The note changes one file event means. Paths outside the vault arrive as ""."""
    if kind == "dir_deleted":
        return [Change("folder_deleted", src)] if src else []
    src_note = is_note_path(src, exclude=exclude)
    if kind in ("created", "modified", "closed"):
        return [Change("changed", src)] if src_note else []
    if kind == "deleted":
        return [Change("deleted", src)] if src_note else []
    dest_note = is_note_path(dest, exclude=exclude)
    if src_note and dest_note:
        return [Change("moved", src, dest)]
    if dest_note:  # an editor's (or vaultttc's) temp file saved over the note
        origin: Origin = "vaultttc" if src.endswith(TEMP_SUFFIX) else "author"
        return [Change("changed", dest, origin=origin)]
    if src_note:  # moved out of the vault or onto a backup name (vim's `note.md~`)
        return [Change("deleted", src)]
    return []


@dataclass(frozen=True, slots=True)
class _Expect:
    """A finished run's saves, waiting for their rename events to arrive."""

    target: int  # the count of vaultttc rename events that covers these saves
    hash: str
    run_seq: int
    run: int
    since: float


@dataclass(slots=True)
class _Note:
    deadline: float | None = None  # due at, once quiet; kept while running, queued after
    running: bool = False
    force: bool = False
    failed: bool = False
    attempts: int = 0  # consecutive runs that could not answer everything
    retry_at: float = 0.0  # not retried before this (backoff)
    seq: int = 0  # author changes seen
    run: int = 0  # number of the latest run
    run_seq: int = 0  # `seq` when the latest run started
    own_seen: int = 0  # vaultttc rename events seen
    own_done: int = 0  # saves made by finished runs
    waiting: list[_Expect] = field(default_factory=list)
    trusted: str | None = None  # the hash of bytes known to be processed


class Scheduler:
    """Per-note debounce, the due queue, and what each note's processed bytes hash to."""

    def __init__(self, debounce_s: float) -> None:
        self.debounce_s = debounce_s
        self._notes: dict[str, _Note] = {}
        self._pending: dict[str, float] = {}  # not running, with a deadline
        self._heap: list[tuple[float, str]] = []
        self._running: set[str] = set()
        self._touched: set[str] = set()  # processed hashes changed since `take_touched`

    # -- changes ----------------------------------------------------------------------------

    def apply(self, change: Change, now: float) -> None:
        if change.kind == "changed":
            note = self._note(change.path)
            if change.origin == "author":
                note.seq += 1
            elif change.origin == "vaultttc" and (note.running or note.waiting):
                note.own_seen += 1  # otherwise another vaultttc process saved it (`run`, `test`)
                self._resolve(change.path, note)
            self._schedule(change.path, note, now)
        elif change.kind == "deleted":
            self._drop_pending(change.path)
        elif change.kind == "moved":
            self._move(change.path, change.dest, now)
        else:
            prefix = change.path.rstrip("/") + "/"
            for path in [p for p in self._notes if p.startswith(prefix)]:
                self._drop_pending(path)

    def _move(self, src: str, dest: str, now: float) -> None:
        old = self._notes.get(src)
        self._drop_pending(src)
        note = self._note(dest)
        self._trust(dest, note, old.trusted if old is not None else None)
        note.seq += 1
        self._schedule(dest, note, now)

    def _note(self, path: str) -> _Note:
        note = self._notes.get(path)
        if note is None:
            note = self._notes[path] = _Note()
        return note

    def _schedule(self, path: str, note: _Note, at: float, *, delay: bool = True) -> None:
        note.deadline = at + self.debounce_s if delay else at
        if not note.running:
            self._pending[path] = note.deadline
            heapq.heappush(self._heap, (note.deadline, path))

    def _drop_pending(self, path: str) -> None:
        """A deleted note's pending work is dropped; a run in flight finds the file gone."""
        note = self._notes.get(path)
        if note is not None:
            note.deadline = None
            note.force = False
        self._pending.pop(path, None)

    # -- runs -------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap and self._pending.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def take_due(self, now: float, limit: int) -> list[Due]:
        """Up to `limit` notes quiet for the debounce period, oldest first; marks them running."""
        due: list[Due] = []
        while len(due) < limit:
            deadline = self.next_deadline()
            if deadline is None or deadline > now:
                break
            _, path = heapq.heappop(self._heap)
            del self._pending[path]
            note = self._notes[path]
            note.running, note.deadline = True, None
            note.run += 1
            note.run_seq = note.seq
            due.append(Due(path, note.force))
            note.force = False
            self._running.add(path)
        return due

    def processed(self, path: str, content_hash: str) -> bool:
        """Whether these bytes of the note were already run (or written) by vaultttc."""
        note = self._notes.get(path)
        return note is not None and note.trusted is not None and note.trusted == content_hash

    def finished(self, path: str, result: Finished, now: float) -> None:
        note = self._notes[path]
        note.running = False
        self._running.discard(path)
        note.failed = result.retry
        note.attempts = note.attempts + 1 if result.retry else 0
        note.retry_at = now + retry_delay(note.attempts) if result.retry else 0.0
        if result.writes and result.written is not None:
            note.own_done += result.writes
            note.waiting.append(_Expect(note.own_done, result.written, note.run_seq, note.run, now))
            self._resolve(path, note)
        else:  # bytes whose save was refused were not processed: they must run again
            self._trust(path, note, None if result.again else result.read_hash)
        if result.again and note.deadline is None:
            note.deadline = now + self.debounce_s
        if note.deadline is not None:  # changed while it ran: due once quiet
            self._schedule(path, note, note.deadline, delay=False)

    def _resolve(self, path: str, note: _Note) -> None:
        while note.waiting and note.waiting[0].target <= note.own_seen:
            expect = note.waiting.pop(0)
            if expect.run == note.run:  # a later run's outcome supersedes this one
                same = note.seq == expect.run_seq  # no author edit before the save landed
                self._trust(path, note, expect.hash if same else None)

    def _trust(self, path: str, note: _Note, content_hash: str | None) -> None:
        if note.trusted != content_hash:
            note.trusted = content_hash
            self._touched.add(path)

    # -- rescans and persistence ------------------------------------------------------------

    def retry_failed(self, now: float) -> list[str]:
        """Queue the notes whose last run asked for a retry and whose backoff has passed;
        they run even if unchanged."""
        paths = [p for p, n in self._notes.items()
                 if n.failed and n.deadline is None and not n.running
                 and n.retry_at <= now]  # fmt: skip
        for path in paths:
            note = self._notes[path]
            note.failed, note.force = False, True
            self._schedule(path, note, now)
        return paths

    def expire(self, now: float, older_than: float) -> None:
        """Forget saves whose rename events never came (a kernel queue overflow)."""
        for note in self._notes.values():
            if note.waiting and note.waiting[-1].since < now - older_than:
                note.waiting.clear()
                note.own_seen = note.own_done

    def forget_missing(self, present: set[str]) -> None:
        gone = [p for p, n in self._notes.items()
                if p not in present and not n.running and n.deadline is None]  # fmt: skip
        for path in gone:
            del self._notes[path]
            self._touched.add(path)

    def restore(self, processed: Mapping[str, str]) -> None:
        for path, content_hash in processed.items():
            self._note(path).trusted = content_hash

    def snapshot(self) -> dict[str, str]:
        return {p: n.trusted for p, n in self._notes.items() if n.trusted is not None}

    def take_touched(self) -> set[str]:
        """The notes whose processed hash changed (or that were forgotten) since last asked."""
        touched, self._touched = self._touched, set()
        return touched

    def trusted(self, path: str) -> str | None:
        note = self._notes.get(path)
        return note.trusted if note is not None else None

    @property
    def idle(self) -> bool:
        return not self._pending and not self._running

    @property
    def pending(self) -> int:
        return len(self._pending)

    def running(self) -> Iterator[str]:
        return iter(self._running)
