"""The watch daemon's loop: file changes in, note runs out, for one vault.

The imperative shell around `schedule.Scheduler`. Changes arrive from an `EventSource`
(watchdog, or scripted) on its own thread and are applied on the event loop; a note runs
through the vault's long-lived `VaultSession` once it has been quiet for the debounce period;
at most `workers` notes run at once, never the same note twice, and a slow note holds only its
own slot. When execution is allowed, the note's examples run too and their outcome is recorded
(living docs). A rescan every `rescan_s` (and one at start-up, against the state saved in
`.vaultttc/watch-state.jsonl`) catches what the OS did not report. `stop()` stops taking work and
cancels runs in flight: a run saves only at its end, atomically, so a cancelled one writes
nothing.

Must not: parse notes or plan edits (the session and `living` do), save a note other than
through their compare-and-swap saves, handle signals or logging setup (`watch.main` does), or
die because of a note.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from vaultttc.config import CONFIG_DIR
from vaultttc.engine.report import NoteReport
from vaultttc.errors import VaultTTCError
from vaultttc.living.examples import ExamplesReport
from vaultttc.vault.files import digest
from vaultttc.vault.session import Vault, VaultSession
from vaultttc.watch.events import EventSource, Seen, append_state, load_state, save_state, survey
from vaultttc.watch.note import (
    needs_backoff,
    note_bytes,
    print_status,
    run_and_record,
    status_line,
)
from vaultttc.watch.reverify import daily_pass, keep_dashboard, pass_due
from vaultttc.watch.schedule import Change, Due, Finished, Scheduler

__all__ = ["STATE_FILE", "Daemon", "StatusLine", "WatchSettings", "WatchStats"]

log = logging.getLogger("vaultttc.watch.command")
StatusLine = Callable[[str], None]
STATE_FILE = "watch-state.jsonl"


@dataclass(frozen=True, slots=True)
class WatchSettings:
    debounce_s: float = 2.5
    rescan_s: float = 300.0
    workers: int = 8  # notes in flight at once; provider lanes keep their own limits
    allow_exec: bool = False
    expire_s: float = 60.0  # a save whose rename event has not come by now was lost


@dataclass(slots=True)
class WatchStats:
    """Counters for status and tests. `skipped`: due notes whose bytes were already processed."""

    runs: int = 0
    skipped: int = 0
    written: int = 0
    errors: int = 0
    by_note: Counter[str] = field(default_factory=Counter)


class Daemon:
    """One vault's watch. `run()` until `stop()`; `settle()` waits for all seen work."""

    def __init__(self, session: VaultSession, source: EventSource, settings: WatchSettings,
                 *, status: StatusLine = print_status, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now().astimezone(),
                 ) -> None:  # fmt: skip
        self.session = session
        self.vault: Vault = session.vault
        self.root = session.vault.root
        self.settings = settings
        self.scheduler = Scheduler(settings.debounce_s)
        self.stats = WatchStats()
        self.ready = threading.Event()  # set once watching and the start-up catch-up is queued
        self._source = source
        self._status = status
        self._clock = clock
        self._wall = wall  # the time of day, for `reverify_at`
        self._reverifying: asyncio.Task[None] | None = None
        self._drawn = 0  # `stats.written` when the dashboard was last redrawn
        self._state_path = self.root / CONFIG_DIR / STATE_FILE
        self._seen: dict[str, Seen] = {}
        self._unanswered: set[str] = set()  # notes whose failure to answer was logged
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._barriers: dict[str, asyncio.Future[None]] = {}
        self._stopping = False
        self._journal = 0  # state lines appended since the last snapshot
        self._stat_touched: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._seen = load_state(self._state_path)
        self.scheduler.restore({rel: seen.hash for rel, seen in self._seen.items()})
        self._source.start(self._threadsafe(self._apply), self._threadsafe(self._reached))
        try:
            await self._survey()
            next_rescan = self._clock() + self.settings.rescan_s
            self.ready.set()
            self._reverify()  # a pass missed while the daemon was not running starts now
            self._say(f"watching {self.root} (debounce {self.settings.debounce_s:g}s); "
                      "Ctrl-C stops")  # fmt: skip
            await self._snapshot()  # compacts the journal; events are queued meanwhile
            while not self._stopping:
                self._wake.clear()
                self._dispatch()
                now = self._clock()
                if now >= next_rescan:
                    await self._rescan()
                    next_rescan = self._clock() + self.settings.rescan_s
                    self._reverify()
                self._record_state()
                await self._sleep(next_rescan)
        finally:
            await self._shutdown()

    def stop(self) -> None:
        """Stop taking work; runs in flight are cancelled. Call on the daemon's loop."""
        if not self._stopping:
            log.info("stopping")
        self._stopping = True
        self._wake.set()

    def request_stop(self) -> None:
        """`stop()` from any thread."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.stop)

    async def settle(self) -> None:
        """Return once every change the source saw before this call has been handled."""
        assert self._loop is not None
        token = self._source.barrier()
        waiter = self._barriers[token] = self._loop.create_future()
        await waiter
        while not self._is_idle():
            self._idle.clear()
            await self._idle.wait()

    def _say(self, line: str) -> None:
        log.info("%s", line)
        self._status(line)

    def _is_idle(self) -> bool:
        return self.scheduler.idle and not self._tasks and self._reverifying is None

    def _threadsafe(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        loop = asyncio.get_running_loop()

        def call(arg: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under a late event
                loop.call_soon_threadsafe(fn, arg)

        return call

    def _apply(self, changes: Sequence[Change]) -> None:
        if self._stopping:
            return
        now = self._clock()
        for change in changes:
            self.scheduler.apply(change, now)
        self._wake.set()

    def _reached(self, token: str) -> None:
        waiter = self._barriers.pop(token, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _sleep(self, next_rescan: float) -> None:
        now = self._clock()
        wake_at = [next_rescan]
        deadline = self.scheduler.next_deadline()
        if deadline is not None and len(self._tasks) < self.settings.workers:
            wake_at.append(deadline)
        if self._is_idle():
            self._idle.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, min(wake_at) - now))

    def _dispatch(self) -> None:
        free = self.settings.workers - len(self._tasks)
        if free <= 0 or self._stopping:
            return
        for due in self.scheduler.take_due(self._clock(), free):
            self._tasks[due.path] = asyncio.create_task(self._process(due))

    async def _shutdown(self) -> None:
        self._stopping = True
        await asyncio.to_thread(self._source.stop)
        tasks = list(self._tasks.values()) + ([self._reverifying] if self._reverifying else [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if tasks:
            log.info("cancelled %d run(s) in flight; nothing partial was written", len(tasks))
        await self._snapshot()

    # -- one note ---------------------------------------------------------------------------

    async def _process(self, due: Due) -> None:
        try:
            try:
                result = await self._run_note(due)
            except Exception:  # the daemon never dies on a note
                log.exception("%s: internal error", due.path)
                self._status(f"{due.path}: internal error (see .vaultttc/log/watch.log)")
                result = Finished(None, retry=True)
            self.scheduler.finished(due.path, result, self._clock())
        finally:
            self._tasks.pop(due.path, None)
            self._wake.set()

    async def _run_note(self, due: Due) -> Finished:
        path = self.root / due.path
        data = note_bytes(path, self.root)
        if data is None:
            return Finished(None)  # gone, or not a note (a dangling editor lock link)
        read_hash = digest(data)
        if not due.force and self.scheduler.processed(due.path, read_hash):
            self.stats.skipped += 1
            log.debug("%s: already processed", due.path)
            return Finished(read_hash)
        started = time.perf_counter()
        report = await self.session.run(path)
        writes, written = (1, report.written_hash) if report.written_hash else (0, None)
        examples, recorded = await self._living(path, due.path)
        if recorded is not None:
            writes, written = writes + 1, recorded
        self._account(due.path, report, writes)
        line = status_line(report, seconds=time.perf_counter() - started, examples=examples,
                           written=writes > 0)  # fmt: skip
        self._say(line)
        retry = needs_backoff(report)
        if retry and due.path not in self._unanswered:  # log once, not on every retry
            self._unanswered.add(due.path)
            budget = any(q.status == "deferred" for q in report.questions)
            why = "the daily budget is spent" if budget else "could not answer every question"
            log.warning("%s: %s; retrying with backoff", due.path, why)
        elif not retry:
            self._unanswered.discard(due.path)
        return Finished(read_hash, written, writes, retry, again=report.stale)

    def _account(self, rel: str, report: NoteReport, writes: int) -> None:
        self.stats.runs += 1
        self.stats.by_note[rel] += 1
        self.stats.written += writes > 0
        self.stats.errors += report.error is not None

    async def _living(self, path: Path, rel: str) -> tuple[ExamplesReport | None, str | None]:
        """The note's examples and their recorded outcome, when execution is allowed."""
        try:
            return await asyncio.to_thread(
                run_and_record, path, rel, allow_exec=self.settings.allow_exec,
                config=self.vault.config, today=self.session.context.today(), root=self.root,
            )  # fmt: skip
        except (OSError, VaultTTCError) as exc:
            log.warning("%s: examples ran but the outcome was not recorded: %s", rel, exc)
            return None, None

    def _reverify(self) -> None:
        """Start today's re-verification pass (`reverify_after`) once it is due; while a
        batch of an earlier pass is out, every rescan collects what has ended."""
        if self._reverifying is not None or self._stopping:
            return
        now = self._wall()
        if not pass_due(self.vault.config, self.root, now):
            return

        async def go() -> None:
            try:
                await daily_pass(self.session, now=now, allow_exec=self.settings.allow_exec,
                                 say=self._say)  # fmt: skip
            except Exception:  # the daemon never dies on a pass
                log.exception("re-verification failed")
            finally:
                self._reverifying = None
                self._wake.set()

        self._reverifying = asyncio.create_task(go())

    # -- rescans and state ------------------------------------------------------------------

    async def _survey(self) -> None:
        """Queue the notes whose bytes are not the processed ones; refresh the stat cache."""
        known = self._processed()
        found = await asyncio.to_thread(
            survey, self.root, known, exclude=self.vault.config.exclude)  # fmt: skip
        now = self._clock()
        for rel, seen in found.seen.items():
            if self.scheduler.trusted(rel) == seen.hash and self._seen.get(rel) != seen:
                self._seen[rel] = seen
                self._stat_touched.add(rel)
        for rel in found.changed:
            self.scheduler.apply(Change("changed", rel, origin="scan"), now)
        self.scheduler.forget_missing(set(found.present))
        for rel in [r for r in self._seen if r not in found.present]:
            del self._seen[rel]
        if found.changed:
            log.info("rescan: %d note(s) changed since they were last run", len(found.changed))

    async def _rescan(self) -> None:
        if self.stats.written != self._drawn:  # notes changed: the dashboard follows
            self._drawn = self.stats.written
            try:
                await asyncio.to_thread(keep_dashboard, self.session, self._wall())
            except (OSError, VaultTTCError) as exc:
                log.warning("dashboard not redrawn: %s", exc)
        await self._survey()
        now = self._clock()
        self.scheduler.retry_failed(now)
        self.scheduler.expire(now, self.settings.expire_s)
        if self._journal > max(1000, 2 * len(self._seen)):
            await self._snapshot()

    def _processed(self) -> dict[str, Seen]:
        """`_seen_of` for every processed note, in one pass (10k notes at start-up)."""
        stats = self._seen
        out: dict[str, Seen] = {}
        for rel, trusted in self.scheduler.snapshot().items():
            seen = stats.get(rel)
            out[rel] = seen if seen is not None and seen.hash == trusted else Seen(trusted)
        return out

    def _seen_of(self, rel: str) -> Seen | None:
        content_hash = self.scheduler.trusted(rel)
        if content_hash is None:
            return None
        seen = self._seen.get(rel)
        return seen if seen is not None and seen.hash == content_hash else Seen(content_hash)

    def _record_state(self) -> None:
        """Journal what changed since the last call: one short append, on the loop."""
        touched = self.scheduler.take_touched() | self._stat_touched
        self._stat_touched = set()
        if touched:
            append_state(self._state_path, {rel: self._seen_of(rel) for rel in sorted(touched)})
            self._journal += len(touched)

    async def _snapshot(self) -> None:
        self.scheduler.take_touched()
        self._stat_touched = set()
        await asyncio.to_thread(save_state, self._state_path, self._processed())
        self._journal = 0
