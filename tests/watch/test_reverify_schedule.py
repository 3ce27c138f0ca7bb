"""The daemon's re-verification: when a pass is due, the config keys, and one pass through the
real session (replay provider, real files) on a clock the test sets."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from stub_server import StubServer, stub_fixture  # noqa: F401

from vaultttc.config import parse_config
from vaultttc.engine.runner import RunOptions
from vaultttc.errors import ConfigError
from vaultttc.vault.batches import load_batches
from vaultttc.vault.session import RunContext, VaultSession, run_paths, vaults_for
from vaultttc.vault.stale import StalePolicy
from vaultttc.watch.daemon import Daemon, WatchSettings
from vaultttc.watch.events import ScriptedSource
from vaultttc.watch.reverify import daily_pass, due, last_pass, pass_due, retest_examples

AT = "03:00"


@pytest.mark.parametrize(
    ("now", "last", "expected"),
    [
        (datetime(2026, 12, 1, 2, 59), None, False),  # not yet
        (datetime(2026, 12, 1, 3, 0), None, True),
        (datetime(2026, 12, 1, 14, 0), date(2026, 11, 30), True),  # missed at 03:00: caught up
        (datetime(2026, 12, 1, 14, 0), date(2026, 12, 1), False),  # once a day
        (datetime(2026, 12, 2, 3, 1), date(2026, 12, 1), True),
    ],
)
def test_a_pass_is_due_once_a_day_from_reverify_at(
    now: datetime, last: date | None, expected: bool
) -> None:
    assert due(now, AT, last) is expected


@pytest.mark.parametrize(
    ("toml", "message"),
    [('reverify_after = "monthly"', "`reverify_after`: 'monthly' is not an age"),
     ('reverify_at = "3am"', "`reverify_at` must be a time of day"),
     ('reverify_at = "25:00"', "`reverify_at` must be a time of day")],
)  # fmt: skip
def test_bad_schedule_settings_are_one_line_errors_naming_the_key(toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(toml, "v/.vaultttc/config.toml")


def test_the_schedule_settings_are_read() -> None:
    config = parse_config('reverify_after = "30d"\nreverify_at = "4:30"\nreverify_batch = true\n')
    assert (config.reverify_after, config.reverify_at, config.reverify_batch) == (
        "30d", "04:30", True)  # fmt: skip
    assert parse_config("").reverify_after is None


FIRST = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)  # when the note was answered


def answered_vault(root: Path, config: str) -> tuple[Path, RunOptions]:
    """A vault with `config` and one note whose question was answered (verified) at FIRST,
    asked through the replay provider; the note, and the run's options."""
    (root / ".vaultttc").mkdir()
    (root / ".vaultttc" / "config.toml").write_text(config)
    replay = root / "r.jsonl"
    replay.write_text(json.dumps({"question": "What is 6 times 7?",
                                  "samples": ["The answer is 42."]}) + "\n")  # fmt: skip
    note = root / "n.md"
    note.write_text("> [!question] What is 6 times 7?\n> expect:: 42\n")
    options = RunOptions(cli={"provider": f"replay:{replay}", "strategy": "direct"})
    asyncio.run(run_paths([root], RunContext(options=options, env={}, now=lambda: FIRST,
                                              today=FIRST.date)))  # fmt: skip
    return note, options


def test_one_daily_pass_reverifies_what_is_stale_and_runs_once_that_day(tmp_path: Path) -> None:
    config = 'reverify_after = "30d"\nreverify_at = "03:00"\ndaily_budget_usd = 1.0\n'
    note, options = answered_vault(tmp_path, config)
    [vault] = vaults_for([tmp_path])
    now = FIRST + timedelta(days=45)
    context = RunContext(options=options, env={}, now=lambda: now, today=now.date)
    said: list[str] = []

    async def go() -> int:
        session = VaultSession.open(vault, context)
        try:
            reports = await daily_pass(session, now=now, allow_exec=False, say=said.append)
            return sum(len(r.questions) for r in reports)
        finally:
            await session.aclose()

    assert pass_due(vault.config, tmp_path, now)
    (tmp_path / "vaultttc.base").write_text("views: []\n")  # `vaultttc dashboard` ran once
    assert asyncio.run(go()) == 1
    assert "| verified | 1 |" in (tmp_path / "vaultttc" / "Report.md").read_text()
    assert "at=2026-11-15T03:00Z" in note.read_text()
    assert "re-verified 1 · 1 agrees" in note.read_text()
    assert last_pass(tmp_path) == now.date() and not pass_due(vault.config, tmp_path, now)
    assert said[-1] == "re-verification: 1 answer(s) re-asked in 1 note(s)"


LIVING = """---
verification_status: verified
last_reinforced: {day}
---
# Sums

```python
print(sum([1, 2, 3]))
```

```output
6
```
"""


def test_living_doc_notes_older_than_the_age_are_retested_and_reinforced(tmp_path: Path) -> None:
    (tmp_path / "old.md").write_text(LIVING.format(day="2026-09-01"))
    (tmp_path / "fresh.md").write_text(LIVING.format(day="2026-11-20"))
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    [vault] = vaults_for([tmp_path])
    done = retest_examples(vault, vault.notes, policy=StalePolicy(timedelta(days=30), now))
    assert done == ["old.md"]
    old = (tmp_path / "old.md").read_text()
    assert "last_reinforced: 2026-12-01" in old and "examples: 1 passed" in old
    assert (tmp_path / "fresh.md").read_text() == LIVING.format(day="2026-11-20")


def test_with_reverify_batch_a_pass_submits_and_the_next_collects(
    tmp_path: Path, stub: StubServer
) -> None:
    stub.reply_text = lambda route, body: "Reasoning.\n\nThe answer is: 42"
    (tmp_path / ".vaultttc").mkdir()
    (tmp_path / ".vaultttc" / "config.toml").write_text(
        'reverify_after = "30d"\nreverify_batch = true\nstrategy = "direct"\n'
    )
    note = tmp_path / "n.md"
    note.write_text("> [!question] What is 6 times 7?\n> expect:: 42\n")
    env = {"ANTHROPIC_API_KEY": "sk-ant-test-key", "ANTHROPIC_BASE_URL": stub.url}
    options = RunOptions(cli={"provider": "anthropic", "model": "claude-sonnet-5-5"})
    first = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)
    asyncio.run(run_paths([tmp_path], RunContext(options=options, env=env, now=lambda: first,
                                                  today=first.date)))  # fmt: skip
    answered = note.read_text()
    [vault] = vaults_for([tmp_path])
    now = first + timedelta(days=45)

    async def one_pass() -> None:
        context = RunContext(options=options, env=env, now=lambda: now, today=now.date)
        session = VaultSession.open(vault, context)
        try:
            await daily_pass(session, now=now, allow_exec=False, say=lambda line: None)
        finally:
            await session.aclose()

    asyncio.run(one_pass())
    assert len(load_batches(tmp_path)) == 1 and note.read_text() == answered  # submitted
    assert pass_due(vault.config, tmp_path, now)  # the next rescan collects
    asyncio.run(one_pass())
    assert load_batches(tmp_path) == [] and not pass_due(vault.config, tmp_path, now)
    text = note.read_text()
    assert "at=2026-11-15T03:00Z" in text and "re-verified 1 · 1 agrees" in text


def test_the_daemon_runs_a_due_pass_at_start_up_and_not_again_that_day(tmp_path: Path) -> None:
    """Through `Daemon.run`: a daemon started after `reverify_at` re-asks the stale answer on
    its own (a pass missed while it was down), says so, and a second daemon that day does
    not re-ask it again."""
    note, options = answered_vault(tmp_path, 'reverify_after = "30d"\nreverify_at = "03:00"\n')
    [vault] = vaults_for([tmp_path])
    now = FIRST + timedelta(days=45, hours=6)  # 09:00: today's 03:00 pass was missed
    context = RunContext(options=options, env={}, now=lambda: now, today=now.date)

    async def watch_until_settled() -> list[str]:
        lines: list[str] = []
        session = VaultSession.open(vault, context)
        daemon = Daemon(session, ScriptedSource(), WatchSettings(debounce_s=0.1),
                        status=lines.append, wall=lambda: now)  # fmt: skip
        running = asyncio.create_task(daemon.run())
        ready = asyncio.create_task(asyncio.to_thread(daemon.ready.wait, 120))
        try:
            await asyncio.wait({running, ready}, return_when=asyncio.FIRST_COMPLETED)
            assert not running.done(), running.result()  # a daemon that died says why
            assert await ready, "the daemon did not start watching"
            await asyncio.wait_for(daemon.settle(), 120)  # a hang fails instead
        finally:
            daemon.stop()
            await running
            await session.aclose()
        return lines

    lines = asyncio.run(watch_until_settled())
    text = note.read_text()
    assert "at=2026-11-15T09:00Z" in text and "re-verified 1 · 1 agrees" in text
    assert "re-verification: 1 answer(s) re-asked in 1 note(s)" in lines
    assert last_pass(tmp_path) == now.date()
    again = asyncio.run(watch_until_settled())
    assert note.read_text() == text
    assert not any(line.startswith("re-verification") for line in again)
