"""`vaultttc run --batch` and `vaultttc batch status|collect` against the stub's batch endpoints,
through the real `anthropic` and `openai` SDK clients: a batch round trip writes the notes a
synchronous run writes, at half the cost; a question changed since submission is dropped;
items the batch did not answer are could-not-answer unless `--batch-fallback`; what cannot go
in one batch is refused before any request."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result
from helpers import DATA
from stub_server import StubServer, stub_fixture  # noqa: F401

from vaultttc.cli.main import cli
from vaultttc.engine.report import RunReport
from vaultttc.engine.runner import RunOptions
from vaultttc.vault.batch_report import BatchRunReport
from vaultttc.vault.batch_run import BatchOptions, run_batched
from vaultttc.vault.batches import load_batches
from vaultttc.vault.session import RunContext, run_paths

VENDORS = ("anthropic", "openai")
MODELS = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-6-sol"}
ROUTES = {"anthropic": "messages", "openai": "responses"}
TODAY = date(2026, 3, 14)
NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)  # both runs date their markers alike
SCHEMA = json.loads((DATA / "schema" / "run_report.schema.json").read_text())
ANSWERS = {"6 times 7": "42", "divisors": "24", "France": "Paris", "Jupiter": "5"}

MATH = """---
title: Arithmetic
tags: [math]
---

# Arithmetic

> [!question] What is 6 times 7?
> expect:: 42
> strategy:: self-consistency
> samples:: 4

> [!question] How many positive divisors does 360 have?
> expect:: 24
> strategy:: best-of-n
> samples:: 3

## Changelog

| date | change |
|---|---|
| 2026-01-01 | created |
"""

FACTS = """---
title: Facts
---

# Facts

> [!question] What is the capital of France?
> expect:: Paris
> strategy:: direct

> [!question] Jupiter is which planet from the Sun?
> expect:: 5
> strategy:: effort
> effort:: high

> [!question] What is 6 times 7, thinking first?
> strategy:: thinking
> thinking_budget:: 2000
"""


def reply_text(route: str, body: dict[str, Any]) -> str:
    """The stub's answer: a function of the question asked, so both paths answer alike."""
    asked = json.dumps(body.get("messages") or body.get("input"))
    found = next((a for key, a in ANSWERS.items() if key in asked), "unsure")
    return f"Reasoning.\n\nThe answer is: {found}"


@pytest.fixture
def batch_stub(stub: StubServer) -> StubServer:
    stub.reply_text = reply_text
    return stub


def make_vault(root: Path) -> Path:
    (root / ".vaultttc").mkdir(parents=True)
    (root / "math.md").write_text(MATH, encoding="utf-8")
    (root / "facts.md").write_text(FACTS, encoding="utf-8")
    return root


def env_for(stub: StubServer, vendor: str) -> dict[str, str]:
    if vendor == "anthropic":
        return {"ANTHROPIC_API_KEY": "sk-ant-test-key", "ANTHROPIC_BASE_URL": stub.url}
    return {"OPENAI_API_KEY": "sk-openai-test-key", "OPENAI_BASE_URL": stub.openai_url}


def context(stub: StubServer, vendor: str, **cli: Any) -> RunContext:
    overrides = {"provider": vendor, "model": MODELS[vendor], **cli}
    return RunContext(
        options=RunOptions(cli=overrides),
        env=env_for(stub, vendor),
        today=lambda: TODAY,
        now=lambda: NOW,
    )


def batch_run(stub: StubServer, vault: Path, vendor: str, **options: Any) -> BatchRunReport:
    how = BatchOptions(sleep=_no_sleep, **options)
    return asyncio.run(run_batched([vault], context(stub, vendor), how))


async def _no_sleep(seconds: float) -> None:
    return None


def notes(vault: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(vault.glob("*.md"))}


def costless(data: bytes) -> bytes:
    """A note with its cost figures blanked: the one thing a batch changes (by design)."""
    return re.sub(rb"\$\d+\.\d+", b"$COST", data)


def report_of(result: Result) -> dict[str, Any]:
    """`--json`'s document, checked against the run report's schema."""
    report: dict[str, Any] = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    return report


def statuses(report: RunReport) -> dict[str, str]:
    return {q.id: q.status for n in report.notes for q in n.questions}


def cli_run(stub: StubServer, vendor: str, *args: str) -> Result:
    argv = ["run", *args, "--provider", vendor, "--model", MODELS[vendor]]
    env = {**{k: None for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")},
           **env_for(stub, vendor)}  # fmt: skip
    return CliRunner(env=env).invoke(cli, argv, catch_exceptions=False)


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_batch_round_trip_writes_what_a_synchronous_run_writes_at_half_the_cost(
    batch_stub: StubServer, tmp_path: Path, vendor: str
) -> None:
    sync_vault, batch_vault = make_vault(tmp_path / "sync"), make_vault(tmp_path / "batch")
    synchronous = asyncio.run(run_paths([sync_vault], context(batch_stub, vendor)))
    assert set(statuses(synchronous).values()) <= {"verified", "unverified", "consensus"}
    before = notes(batch_vault)
    sync_calls = batch_stub.count(ROUTES[vendor])

    submitted = batch_run(batch_stub, batch_vault, vendor)
    assert notes(batch_vault) == before  # submitting writes no note
    assert [b.requests for b in submitted.submitted] == [sync_calls]
    assert set(statuses(submitted.run).values()) == {"batched"}
    assert submitted.exit_code == 0
    assert [r.id for r in load_batches(batch_vault)] == [submitted.submitted[0].id]

    collected = batch_run(batch_stub, batch_vault, vendor)
    assert batch_stub.count(ROUTES[vendor]) == sync_calls  # no synchronous request in batch mode
    written, expected = notes(batch_vault), notes(sync_vault)
    assert written != before
    assert {k: costless(v) for k, v in written.items()} == {
        k: costless(v) for k, v in expected.items()
    }
    assert statuses(collected.run) == statuses(synchronous)
    sync_cost, batch_cost = synchronous.totals()["cost_usd"], collected.run.totals()["cost_usd"]
    assert sync_cost > 0
    assert batch_cost == pytest.approx(sync_cost / 2, abs=5e-6)  # reports round to 6 places
    assert load_batches(batch_vault) == []  # collected: forgotten
    again = batch_run(batch_stub, batch_vault, vendor)
    assert again.submitted == () and again.run.totals()["questions"] == 0


@pytest.mark.parametrize("vendor", VENDORS)
def test_run_batch_json_lists_the_batches_and_exits_0(
    batch_stub: StubServer, tmp_path: Path, vendor: str
) -> None:
    vault = make_vault(tmp_path / "v")
    result = cli_run(batch_stub, vendor, str(vault), "--batch", "--json")
    assert result.exit_code == 0, result.output
    report = report_of(result)
    (batch,) = report["batches"]
    assert batch["provider"] == vendor and batch["requests"] == 10
    assert batch["id"] in batch_stub.batches.created
    assert report["totals"]["batched"] == 5


def test_a_batch_in_progress_is_polled_not_resubmitted_and_wait_polls_until_it_ends(
    batch_stub: StubServer, tmp_path: Path
) -> None:
    vault = make_vault(tmp_path / "v")
    batch_stub.batches.polls_to_end = 3
    batch_run(batch_stub, vault, "anthropic")
    polled = batch_run(batch_stub, vault, "anthropic")
    assert len(batch_stub.batches.created) == 1
    assert [p.status for _, p in polled.waiting] == ["in_progress"]
    assert set(statuses(polled.run).values()) == {"batched"} and polled.exit_code == 0
    lines: list[int] = []
    done = batch_run(batch_stub, vault, "anthropic", wait=True,
                     on_poll=lambda seen: lines.append(len(seen)))  # fmt: skip
    assert lines == [1, 1, 1]  # a progress line a poll: 2 more in progress, then ended
    assert set(statuses(done.run).values()) == {"verified", "unverified"}


def test_a_question_changed_since_submission_is_not_written_and_is_submitted_again(
    batch_stub: StubServer, tmp_path: Path
) -> None:
    vault = make_vault(tmp_path / "v")
    batch_run(batch_stub, vault, "anthropic")
    path = vault / "facts.md"
    path.write_text(FACTS.replace("capital of France?", "capital city of France?"))
    collect = cli_run(batch_stub, "anthropic", str(vault), "--batch", "--json")
    report = report_of(collect)
    facts = next(n for n in report["notes"] if n["path"] == "facts.md")
    changed = next(q for q in facts["questions"] if q["line"] == 7)
    assert changed["status"] == "batched" and changed["answer"] is None
    assert "capital city of France?\n> expect:: Paris\n> strategy:: direct\n\n>" in path.read_text()
    assert len(batch_stub.batches.created) == 2 and report["batches"][0]["requests"] == 1
    assert report["totals"]["verified"] >= 3


def test_batch_collect_drops_a_changed_question_as_could_not_answer(
    batch_stub: StubServer, tmp_path: Path
) -> None:
    vault = make_vault(tmp_path / "v")
    batch_run(batch_stub, vault, "anthropic")
    path = vault / "facts.md"
    path.write_text(FACTS.replace("capital of France?", "capital city of France?"))
    env = env_for(batch_stub, "anthropic")
    result = CliRunner(env=env).invoke(cli, ["batch", "collect", str(vault), "--json"])
    report = report_of(result)
    assert result.exit_code == 3  # some questions could not be answered: left untouched
    facts = next(n for n in report["notes"] if n["path"] == "facts.md")
    changed = next(q for q in facts["questions"] if q["line"] == 7)
    assert changed["status"] == "unanswered" and "in no batch" in changed["error"]
    assert "[!success]- Verified · direct" not in path.read_text()
    assert len(batch_stub.batches.created) == 1 and load_batches(vault) == []


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("kind", ["expired", "errored"])
def test_items_the_batch_did_not_answer_are_unanswered_without_fallback(
    batch_stub: StubServer, tmp_path: Path, *, vendor: str, kind: str
) -> None:
    vault = make_vault(tmp_path / "v")
    batch_stub.batches.fail = lambda params: kind if "France" in json.dumps(params) else None
    batch_run(batch_stub, vault, vendor)
    calls = batch_stub.count(ROUTES[vendor])
    before = (vault / "facts.md").read_bytes()
    report = batch_run(batch_stub, vault, vendor)
    france = next(q for n in report.run.notes for q in n.questions if q.line == 7 and
                  n.path == "facts.md")  # fmt: skip
    assert france.status == "unanswered" and kind in (france.error or "")
    assert "--batch-fallback" in (france.error or "")
    assert report.exit_code == 3
    assert batch_stub.count(ROUTES[vendor]) == calls  # nothing asked synchronously
    assert (
        b"capital of France?\n> expect:: Paris\n> strategy:: direct\n\n>"
        in (vault / "facts.md").read_bytes()
    )
    assert (vault / "facts.md").read_bytes() != before  # its other questions were written


@pytest.mark.parametrize("vendor", VENDORS)
def test_batch_fallback_asks_such_items_synchronously(
    batch_stub: StubServer, tmp_path: Path, vendor: str
) -> None:
    vault = make_vault(tmp_path / "v")
    batch_stub.batches.fail = lambda params: "expired" if "France" in json.dumps(params) else None
    batch_run(batch_stub, vault, vendor)
    calls = batch_stub.count(ROUTES[vendor])
    report = batch_run(batch_stub, vault, vendor, fallback=True)
    assert batch_stub.count(ROUTES[vendor]) == calls + 1
    assert set(statuses(report.run).values()) <= {"verified", "unverified"}
    assert "> Paris" in (vault / "facts.md").read_text()


@pytest.mark.parametrize("strategy", ["auto", "adaptive-consistency", "beam", "mcts"])
def test_multi_round_strategies_are_refused_before_any_request(
    batch_stub: StubServer, tmp_path: Path, strategy: str
) -> None:
    vault = make_vault(tmp_path / "v")
    result = cli_run(batch_stub, "anthropic", str(vault), "--batch", "--strategy", strategy)
    assert result.exit_code == 2
    assert "multi-round" in result.stderr and "cannot go in one batch" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert batch_stub.count() == 0


def test_a_judge_verifier_and_a_provider_without_a_batch_api_are_refused(
    batch_stub: StubServer, tmp_path: Path
) -> None:
    vault = make_vault(tmp_path / "v")
    (vault / "judged.md").write_text(
        "> [!question] Explain recursion.\n> verify:: judge\n> strategy:: direct\n"
    )
    result = cli_run(batch_stub, "anthropic", str(vault), "--batch")
    assert result.exit_code == 2 and "judge" in result.stderr
    (vault / "judged.md").unlink()
    env = {"OPENAI_BASE_URL": batch_stub.openai_url}
    argv = ["run", str(vault), "--batch", "--provider", "openai-compatible", "--model", "m"]
    result = CliRunner(env=env).invoke(cli, argv)
    assert result.exit_code == 2 and "has no batch API" in result.stderr
    assert batch_stub.count() == 0


def test_wait_without_batch_is_a_usage_error(batch_stub: StubServer, tmp_path: Path) -> None:
    result = cli_run(batch_stub, "anthropic", str(make_vault(tmp_path / "v")), "--wait")
    assert result.exit_code == 2 and "--batch" in result.output


def test_a_batch_dry_run_quotes_at_the_batch_price_and_sends_nothing(
    batch_stub: StubServer, tmp_path: Path
) -> None:
    vault = make_vault(tmp_path / "v")
    plain = json.loads(cli_run(batch_stub, "openai", str(vault), "--dry-run", "--json").stdout)
    batched = cli_run(batch_stub, "openai", str(vault), "--dry-run", "--batch", "--json")
    assert batched.exit_code == 0, batched.output
    quote = json.loads(batched.stdout)["totals"]["quote"]
    assert quote["worst_usd"] == pytest.approx(plain["totals"]["quote"]["worst_usd"] / 2, rel=1e-3)
    assert batch_stub.count() == 0 and load_batches(vault) == []


def test_batch_status_polls_and_writes_nothing(batch_stub: StubServer, tmp_path: Path) -> None:
    vault = make_vault(tmp_path / "v")
    batch_stub.batches.polls_to_end = 5
    first = batch_run(batch_stub, vault, "openai")
    before = notes(vault)
    env = env_for(batch_stub, "openai")
    result = CliRunner(env=env).invoke(cli, ["batch", "status", str(vault), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["batches"]
    assert row["id"] == first.submitted[0].id and row["ended"] is False
    assert row["notes"] == ["facts.md", "math.md"]
    assert notes(vault) == before


@pytest.mark.parametrize("vendor", VENDORS)
def test_max_cost_holds_for_a_batch_too(
    batch_stub: StubServer, tmp_path: Path, vendor: str
) -> None:
    vault = make_vault(tmp_path / "v")
    full = report_of(cli_run(batch_stub, vendor, str(vault), "--batch", "--json", "--dry-run"))
    worst = full["totals"]["quote"]["worst_usd"]
    vault2 = make_vault(tmp_path / "w")
    capped = report_of(
        cli_run(batch_stub, vendor, str(vault2), "--batch", "--json", "--max-cost", f"{worst / 3}")
    )
    submitted = sum(b["requests"] for b in capped.get("batches", []))
    assert submitted < 10  # what the cap could not cover was not submitted
    assert capped["totals"]["deferred"] >= 1
