"""Spend: a quote before any call, a budget for the run and for the daemon, and re-asking only
when the user decides to. Through the real CLI and the real anthropic SDK against the stub."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from helpers import REPO
from stub_server import StubServer, stub_fixture  # noqa: F401

from vaultttc.cli.main import cli
from vaultttc.engine.runner import RunOptions
from vaultttc.vault.ledger import Spend, append, load
from vaultttc.vault.session import RunContext, VaultSession, vaults_for

NOTE = "".join(f"> [!question] What is {n} plus {n}?\n\n" for n in range(1, 5))


def anthropic_env(stub: StubServer) -> dict[str, str | None]:
    return {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": stub.url,
            "OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}  # fmt: skip


def invoke(stub: StubServer, *argv: str) -> Result:
    args = ["run", *argv, "--provider", "anthropic", "--json"]
    return CliRunner(env=anthropic_env(stub)).invoke(cli, args, catch_exceptions=False)


def report(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def example(tmp_path: Path) -> Path:
    copy = tmp_path / "vault"
    shutil.copytree(REPO / "vault_example", copy)
    shutil.rmtree(copy / ".vaultttc" / "cache.sqlite", ignore_errors=True)
    return copy


def test_a_dry_run_calls_nothing_and_its_quote_is_within_a_quarter_of_the_cost(
    example: Path, stub: StubServer
) -> None:
    knobs = ("--strategy", "self-consistency", "--samples", "4")
    invoke(stub, str(example), *knobs)  # the vault learns the model's output length
    stub.reset()
    dry = report(invoke(stub, str(example), *knobs, "--dry-run", "--force"))
    assert stub.count() == 0
    questions = [q for n in dry["notes"] for q in n["questions"]]
    assert questions and all(q["quote"]["worst_usd"] >= q["quote"]["expected_usd"] > 0
                             for q in questions)  # fmt: skip
    quoted = dry["totals"]["quote"]["expected_usd"]
    real = report(invoke(stub, str(example), *knobs, "--force", "--no-cache"))
    cost = real["totals"]["cost_usd"]
    assert cost > 0 and abs(quoted - cost) <= 0.25 * cost
    assert quoted <= dry["totals"]["quote"]["worst_usd"]


def test_max_cost_is_never_exceeded_and_what_it_deferred_a_later_run_answers(
    tmp_path: Path, stub: StubServer
) -> None:
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    capped = report(invoke(stub, str(tmp_path), "--strategy", "direct", "--max-cost", "0.03"))
    assert capped["totals"]["cost_usd"] <= 0.03
    statuses = [q["status"] for q in capped["notes"][0]["questions"]]
    assert "deferred" in statuses and len(statuses) == 4
    deferred = statuses.count("deferred")
    assert note.read_text().count("vaultttc:begin") == 4 - deferred
    later = report(invoke(stub, str(tmp_path), "--strategy", "direct"))
    assert len(later["notes"][0]["questions"]) == deferred  # only what was deferred is asked
    assert note.read_text().count("vaultttc:begin") == 4


def test_the_daemon_stops_at_its_daily_budget_and_resumes_the_next_day(
    tmp_path: Path, stub: StubServer
) -> None:
    (tmp_path / ".vaultttc").mkdir()
    (tmp_path / ".vaultttc" / "config.toml").write_text("daily_budget_usd = 0.03\n")
    spent = Spend(day="2026-12-01", provider="anthropic", model="claude-sonnet-5-5", usd=0.031)
    append(tmp_path / ".vaultttc" / "spend.jsonl", [spent])  # today's budget is already spent
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    day = [date(2026, 12, 1)]
    env = {k: v for k, v in anthropic_env(stub).items() if v is not None}
    options = RunOptions(cli={"provider": "anthropic", "strategy": "direct"})
    context = RunContext(options=options, env=env, today=lambda: day[0], daily=True)
    [vault] = vaults_for([tmp_path])

    async def go() -> list[str]:
        session = VaultSession.open(vault, context)
        try:
            return [q.status for q in (await session.run(note)).questions]
        finally:
            await session.aclose()

    assert set(asyncio.run(go())) == {"deferred"}
    assert stub.count("messages") == 0 and note.read_text() == NOTE
    day[0] = date(2026, 12, 2)  # a new day, a new budget; each run reserves worst cases, so
    for _ in range(4):  # the deferred rest is taken by the retries that follow
        if "deferred" not in asyncio.run(go()):
            break
    assert note.read_text().count("vaultttc:begin") == 4
    today = [e for e in load(tmp_path / ".vaultttc" / "spend.jsonl") if e.day == "2026-12-02"]
    assert 0 < sum(e.usd for e in today) <= 0.03


def test_a_plain_run_after_an_override_run_asks_nothing(tmp_path: Path, stub: StubServer) -> None:
    (tmp_path / "n.md").write_text(NOTE)
    invoke(stub, str(tmp_path), "--strategy", "self-consistency", "--samples", "2")
    stub.reset()
    again = report(invoke(stub, str(tmp_path)))
    assert stub.count() == 0 and again["totals"]["questions"] == 0


def test_force_draws_fresh_samples_and_no_cache_keeps_none(
    tmp_path: Path, stub: StubServer
) -> None:
    (tmp_path / "n.md").write_text(NOTE)
    invoke(stub, str(tmp_path), "--strategy", "direct")
    stub.reset()
    forced = report(invoke(stub, str(tmp_path), "--strategy", "direct", "--force"))
    assert stub.count("messages") >= 4
    assert not any(q["cached"] for n in forced["notes"] for q in n["questions"])
    other = tmp_path / "other"
    other.mkdir()
    (other / "n.md").write_text(NOTE)
    invoke(stub, str(other), "--strategy", "direct", "--no-cache")
    assert not (other / ".vaultttc" / "cache.sqlite").exists()


def test_spend_prints_the_ledger_by_model(tmp_path: Path, stub: StubServer) -> None:
    (tmp_path / "n.md").write_text(NOTE)
    invoke(stub, str(tmp_path), "--strategy", "direct")
    result = CliRunner().invoke(cli, ["spend", str(tmp_path), "--json"], catch_exceptions=False)
    data = json.loads(result.stdout)
    [row] = data["models"]
    assert row["provider"] == "anthropic" and row["today"] > 0 and row["questions"] == 4
