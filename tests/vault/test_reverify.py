"""Re-verification on a clock the test controls: which answers are stale and in what order,
what an agreeing and a disagreeing re-verification write, and the regression report. Runs go
through the real session with the replay provider and real files."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from stub_server import StubServer, stub_fixture  # noqa: F401

from vaultttc.engine.report import RunReport
from vaultttc.engine.runner import RunOptions
from vaultttc.errors import ConfigError
from vaultttc.notes.parse import parse_note
from vaultttc.vault.reverify import REGRESSIONS_FILE, load
from vaultttc.vault.session import RunContext, run_paths
from vaultttc.vault.stale import StalePolicy, parse_age, stale_answer

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
NOTE = """---
title: Arithmetic
last_reinforced: 2026-01-01
---
# Arithmetic

> [!question] What is 6 times 7?
> expect:: 42

## Changelog

| Date | Change |
|---|---|
"""
OPEN = NOTE.replace("> expect:: 42\n", "")  # nothing checks it: a vote, at best consensus


def replay(path: Path, answer: str) -> str:
    line = {
        "question": "What is 6 times 7?",
        "samples": [f"Working it out. The answer is {answer}."],
    }
    path.write_text(json.dumps(line) + "\n")
    return f"replay:{path}"


def run(root: Path, provider: str, now: datetime, *, stale_after: str | None = None) -> RunReport:
    options = RunOptions(cli={"provider": provider, "strategy": "direct", "samples": 1})
    context = RunContext(
        options=options, env={}, today=lambda: now.date(), now=lambda: now,
        stale_after=parse_age(stale_after) if stale_after else None,
    )  # fmt: skip
    return asyncio.run(run_paths([root], context))


def rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| 2026")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2)),
     ("90m", timedelta(minutes=90)), (" 1.5d ", timedelta(hours=36))],
)  # fmt: skip
def test_ages_parse(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["30", "d", "30 days", "-3d", "0d", "3y", ""])
def test_anything_else_is_a_one_line_error_naming_the_fix(text: str) -> None:
    with pytest.raises(ConfigError, match=r"--stale-after: .* is not an age; .*30d or 2w"):
        parse_age(text)


def region(at: str | None, by: str = "m1") -> str:
    stamp = f" at={at} by={by} ans=0" if at else ""
    return (f"%% vaultttc:begin id=q hash=h verdict=verified confidence=0.90{stamp} %%\n"
            "> [!success]- Verified\n> 42\n%% vaultttc:end %%\n")  # fmt: skip


def test_stale_answers_are_found_and_ordered_stalest_first() -> None:
    """Old by date, by another model, by the note's last_reinforced, of unknown age; fresh
    ones are left alone."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    policy = StalePolicy(timedelta(days=30), now)
    head = "---\nlast_reinforced: {lr}\n---\n> [!question] Q?\n\n"
    cases = {
        "fresh": head.format(lr="2026-11-30") + region("2026-11-25T10:00Z"),
        "old": head.format(lr="2026-11-30") + region("2026-09-01T10:00Z"),
        "older": head.format(lr="2026-11-30") + region("2026-06-01T10:00Z"),
        "other model, fresh": head.format(lr="2026-11-30") + region("2026-11-28T10:00Z", "m0"),
        "dated by last_reinforced": head.format(lr="2026-10-15") + region(None),
        "recent, unmarked": head.format(lr="2026-11-20") + region(None),
        "unknown age": "> [!question] Q?\n\n" + region(None),
    }
    found = {}
    for name, text in cases.items():
        note = parse_note(text, path=f"{name}.md")
        stale = stale_answer(note, note.questions[0], model="m1", policy=policy)
        if stale is not None:
            found[name] = stale
    order = sorted(found, key=lambda n: -found[n].age_s)
    assert order == ["unknown age", "older", "old", "dated by last_reinforced",
                     "other model, fresh"]  # fmt: skip
    assert "m0" in found["other model, fresh"].reason and "m1" in found["other model, fresh"].reason


def test_an_agreeing_reverification_reinforces_the_note_and_adds_one_row(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    provider = replay(tmp_path / "r.jsonl", "42")
    assert run(tmp_path, provider, T0).exit_code == 0
    first = note.read_text()
    assert "last_reinforced: 2026-10-01" in first and len(rows(first)) == 1
    assert (
        run(tmp_path, provider, T0 + timedelta(days=10), stale_after="30d").totals()["questions"]
        == 0
    )  # fresh: nothing is asked
    later = T0 + timedelta(days=31)
    report = run(tmp_path, provider, later, stale_after="30d")
    [question] = report.notes[0].questions
    assert question.reverified == "agrees" and not question.cached  # fresh samples, not cached
    text = note.read_text()
    assert "last_reinforced: 2026-11-01" in text and "at=2026-11-01T09:00Z" in text
    new_rows = rows(text)[1:]
    assert len(new_rows) == 1 and "re-verified 1 · 1 agrees" in new_rows[0]
    assert report.exit_code == 0


def test_a_disagreeing_reverification_replaces_the_answer_and_says_so(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text(OPEN)
    source = tmp_path / "r.jsonl"
    run(tmp_path, replay(source, "41"), T0)
    assert "> 41" in note.read_text()
    report = run(tmp_path, replay(source, "42"), T0 + timedelta(days=40), stale_after="30d")
    assert report.notes[0].questions[0].reverified == "disagrees"
    text = note.read_text()
    assert "> 42" in text and "> 41" not in text
    [row] = rows(text)[1:]
    assert "re-verified 1 · 1 answer replaced" in row
    assert text.count("vaultttc:begin") == 1  # replaced, not added


def test_a_verified_answer_that_now_fails_its_reference_is_a_loud_regression(
    tmp_path: Path,
) -> None:
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    run(tmp_path, replay(tmp_path / "old" / "gpt-a.jsonl", "42"), T0)
    assert "verification_status: verified" in note.read_text()
    # A newer model, within the age: it is re-asked because the model changed.
    report = run(tmp_path, replay(tmp_path / "new" / "gpt-b.jsonl", "41"), T0 + timedelta(days=2),
                 stale_after="30d")  # fmt: skip
    [line] = report.notes[0].regressions  # line 9: the first run added two frontmatter keys
    assert line.startswith("REGRESSION n.md:9 ")
    assert "replay-gpt-a" in line and "replay-gpt-b" in line
    assert report.exit_code == 4
    assert report.notes[0].questions[0].reverified == "regression"
    text = note.read_text()
    assert "verification_status: failed" in text and "REGRESSION" in rows(text)[-1]
    [kept] = load(tmp_path / ".vaultttc" / REGRESSIONS_FILE)
    assert (kept.note, kept.line, kept.old_model, kept.new_model) == (
        "n.md", 9, "replay-gpt-a", "replay-gpt-b")  # fmt: skip


def test_without_stale_after_a_stored_answer_is_never_reasked(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    provider = replay(tmp_path / "r.jsonl", "42")
    run(tmp_path, provider, T0)
    before = note.read_text()
    assert run(tmp_path, provider, T0 + timedelta(days=400)).totals()["questions"] == 0
    assert note.read_text() == before


def test_a_budget_stops_reverification_stalest_first_and_the_next_run_continues(
    tmp_path: Path, stub: StubServer
) -> None:
    env = {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": stub.url}
    options = RunOptions(cli={"provider": "anthropic", "strategy": "direct"})

    def go(now: datetime, paths: list[Path], **kw: Any) -> RunReport:
        context = RunContext(options=options, env=env, today=lambda: now.date(),
                             now=lambda: now, **kw)  # fmt: skip
        return asyncio.run(run_paths(paths, context))

    notes = {name: tmp_path / f"{name}.md" for name in ("middle", "oldest", "newest")}
    answered_at = {"oldest": T0, "middle": T0 + timedelta(days=5), "newest": T0 + timedelta(days=9)}
    for name, path in notes.items():
        path.write_text(f"> [!question] What is {len(name)} plus {len(name)}?\n")
        cost = go(answered_at[name], [path]).totals()["cost_usd"]
    later = T0 + timedelta(days=60)
    month = timedelta(days=30)
    dry = go(later, [tmp_path], stale_after=month, dry_run=True)
    why = {n.path: [q.note for q in n.questions] for n in dry.notes}
    assert why == {"oldest.md": ["re-verify: answered 60 days ago"],
                   "middle.md": ["re-verify: answered 55 days ago"],
                   "newest.md": ["re-verify: answered 51 days ago"]}  # fmt: skip
    worst = max(q.quote["worst_usd"] for n in dry.notes for q in n.questions if q.quote)
    cap = worst + cost / 2  # room for one request's worst case, not for a second after it
    order = []
    for _ in range(3):
        report = go(later, [tmp_path], stale_after=month, max_cost_usd=cap)
        done = [n.path for n in report.notes if n.questions and n.questions[0].reverified]
        deferred = [n.path for n in report.notes if n.questions
                    and n.questions[0].status == "deferred"]  # fmt: skip
        assert len(done) == 1 and report.totals()["cost_usd"] <= cap
        assert report.exit_code == (3 if deferred else 0)
        order += done
    assert order == ["oldest.md", "middle.md", "newest.md"]
    assert all("at=2026-11-30T09:00Z" in p.read_text() for p in notes.values())
    assert go(later, [tmp_path], stale_after=month).totals()["questions"] == 0
