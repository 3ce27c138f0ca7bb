"""The daemon's re-verification: once a day from `reverify_at`, the vault's stale answers.

`due(now, at, last)` is the pure schedule (local time of day, at most once a day, caught up
when the daemon was not running at that time); `reverify_vault` is the pass: stale answers
stalest first within the daemon's daily budget (through the batch API when `reverify_batch`
is set and every re-asked question can go in one; otherwise synchronously), then the
living-doc notes whose `last_reinforced` is older than the age, re-tested when execution is
allowed. The day of the last pass is kept in `.vaultttc/reverify.json`, so a restart does
not repeat it. `keep_dashboard` redraws the dashboard of a vault that has one (after a pass,
and on each rescan after the daemon wrote a note). Must not: schedule single notes (the
daemon does) or write notes except through the session's and `living`'s compare-and-swap
saves.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from vaultttc.config import CONFIG_DIR, VaultConfig
from vaultttc.engine.report import NoteReport
from vaultttc.errors import VaultTTCError
from vaultttc.vault.bases import BASE_FILE
from vaultttc.vault.batch_run import BatchOptions, run_batched
from vaultttc.vault.batches import STATE_FILE as BATCHES_STATE
from vaultttc.vault.files import iter_notes, read_note
from vaultttc.vault.session import (
    Planned,
    Vault,
    VaultSession,
    display_path,
    stalest_order,
    vaults_for,
)
from vaultttc.vault.stale import StalePolicy, parse_age, stale_examples
from vaultttc.watch.note import run_and_record

__all__ = [
    "REVERIFY_FILE",
    "daily_pass",
    "due",
    "keep_dashboard",
    "last_pass",
    "pass_due",
    "retest_examples",
    "retest_stale",
    "reverify_vault",
]

log = logging.getLogger("vaultttc.watch.command")
REVERIFY_FILE = "reverify.json"


def due(now: datetime, at: str, last: date | None) -> bool:
    """Whether today's pass should start: it is `at` (HH:MM, `now`'s own time zone) or later,
    and no pass ran today."""
    hour, minute = (int(part) for part in at.split(":"))
    return last != now.date() and now.time() >= time(hour, minute)


def pass_due(config: VaultConfig, root: Path, now: datetime) -> bool:
    """Whether the daemon should run a pass now: today's is due, or (`reverify_batch`) an
    earlier pass's batches are out and a rescan should collect what has ended."""
    if config.reverify_after is None:
        return False
    last = last_pass(root)  # batches out before any pass are the user's `run --batch`'s
    waiting = config.reverify_batch and last is not None
    waiting = waiting and (root / CONFIG_DIR / BATCHES_STATE).is_file()
    return waiting or due(now, config.reverify_at, last)


async def daily_pass(
    session: VaultSession, *, now: datetime, allow_exec: bool, say: Callable[[str], None]
) -> list[NoteReport]:
    """The daemon's pass, with its config; regressions are logged as errors and said."""
    config = session.vault.config
    assert config.reverify_after is not None  # pass_due said so
    after = parse_age(config.reverify_after, where="reverify_after")
    reports = await reverify_vault(session, after=after, now=now, batch=config.reverify_batch,
                                   allow_exec=allow_exec)  # fmt: skip
    for line in (line for report in reports for line in report.regressions):
        log.error("%s", line)
        say(line)
    asked = sum(len(r.questions) for r in reports)
    notes = sum(bool(r.questions) for r in reports)
    say(f"re-verification: {asked} answer(s) re-asked in {notes} note(s)")
    await asyncio.to_thread(keep_dashboard, session, now)
    return reports


def keep_dashboard(session: VaultSession, now: datetime) -> bool:
    """Redraw the dashboard of a vault that has one (`vaultttc dashboard` ran there once);
    a blocking call, for a worker thread. False when there is none."""
    if not (session.vault.root / BASE_FILE).is_file():
        return False
    from vaultttc.vault.dashboard import write_dashboard  # its pictures import matplotlib

    write_dashboard(session.vault, now)
    return True


def last_pass(root: Path) -> date | None:
    try:
        return date.fromisoformat(
            json.loads((root / CONFIG_DIR / REVERIFY_FILE).read_text())["last"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _mark(root: Path, day: date) -> None:
    path = root / CONFIG_DIR / REVERIFY_FILE
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"last": day.isoformat()}) + "\n", encoding="utf-8")


async def reverify_vault(
    session: VaultSession, *, after: timedelta, now: datetime, batch: bool = False,
    allow_exec: bool = False,
) -> list[NoteReport]:  # fmt: skip
    """One pass over the vault; the reports of the notes it ran."""
    vault = session.vault
    notes = list(iter_notes(vault.root, exclude=vault.config.exclude))
    context = replace(session.context, stale_after=after, daily=True, now=lambda: now)
    reports: list[NoteReport] = []
    if batch:  # submits, and collects what an earlier pass submitted
        try:
            reports = list((await run_batched(notes, context, BatchOptions())).run.notes)
        except VaultTTCError as exc:  # e.g. a multi-round strategy: ask synchronously
            log.warning("reverify_batch: %s; re-verifying synchronously", exc)
            batch = False
    if not batch:
        staled = replace(session, context=context)
        for plan in stalest_order([staled.plan(p) for p in notes]):  # one at a time: budget
            reports.append(await staled.execute(plan) if isinstance(plan, Planned) else plan)
    if allow_exec and last_pass(vault.root) != now.date():
        await asyncio.to_thread(retest_examples, vault, notes, policy=StalePolicy(after, now))
    _mark(vault.root, now.date())
    return reports


def retest_stale(paths: Iterable[Path], after: timedelta) -> list[str]:
    """`run --stale-after AGE --allow-exec`: re-test the stale living-doc notes under
    `paths`, now."""
    policy = StalePolicy(after, datetime.now(UTC))
    return [rel for vault in vaults_for(paths)
            for rel in retest_examples(vault, vault.notes, policy=policy)]  # fmt: skip


def retest_examples(vault: Vault, notes: Iterable[Path], *, policy: StalePolicy) -> list[str]:
    """Re-test the living-doc notes among `notes` whose `last_reinforced` is older than the
    policy's age (blocking: the examples run in the sandbox); the notes whose outcome was
    recorded. Execution must already be allowed."""
    root, done = vault.root, []
    for path in notes:
        rel = display_path(path, root)
        try:
            if stale_examples(read_note(path, display=rel).note, policy) is None:
                continue
            run_and_record(path, rel, allow_exec=True, config=vault.config,
                           today=policy.now.date(), root=root)  # fmt: skip
            done.append(rel)
        except (OSError, VaultTTCError) as exc:
            log.warning("%s: examples not re-tested: %s", rel, exc)
    return done
