"""`vaultttc run` end to end on copies of vault_example, through the real CLI, with the replay
provider (recorded samples in tests/data/replay/vault_example.jsonl)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result
from helpers import DATA, REPO

from vaultttc.cli.main import cli
from vaultttc.notes.model import Note
from vaultttc.notes.parse import parse_note

REPLAY = DATA / "replay" / "vault_example.jsonl"
SCHEMA = json.loads((DATA / "schema" / "run_report.schema.json").read_text())
OWNED = ("confidence_score", "verification_status", "last_reinforced")
NO_KEYS = {k: None for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")}


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    copy = tmp_path / "vault"
    shutil.copytree(REPO / "vault_example", copy)
    for stale in (copy / ".vaultttc").glob("cache.sqlite*"):  # a file: rmtree would not
        stale.unlink()
    return copy


def run(*args: str) -> Result:
    argv = ["run", *args, "--provider", f"replay:{REPLAY}", "--json"]
    return CliRunner(env=NO_KEYS).invoke(cli, argv, catch_exceptions=False)


def report_of(result: Result) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    return report


def notes(vault: Path) -> dict[str, bytes]:
    return {p.relative_to(vault).as_posix(): p.read_bytes() for p in sorted(vault.rglob("*.md"))}


def parsed(data: bytes) -> Note:
    return parse_note(data.decode("utf-8"), "n.md")


def frontmatter_lines(data: bytes) -> list[str]:
    lines = data.decode("utf-8").split("\n")
    return lines[: lines.index("---", 1) + 1]


def table_rows(note: Note, data: bytes) -> int:
    assert note.changelog is not None and note.changelog.table is not None
    return note.changelog.table.end - note.changelog.table.start - 2


def test_first_run_answers_every_question_right_after_its_block(vault: Path) -> None:
    before = notes(vault)
    result = run(str(vault), "--allow-exec")
    report = report_of(result)
    after = notes(vault)
    asked = {q["id"] for n in report["notes"] for q in n["questions"]}
    for name, data in after.items():
        if name.startswith("Templates/"):
            assert data == before[name], "an excluded folder was touched"
            continue
        for question in parsed(data).questions:
            assert question.id in asked
            assert question.answer is not None, f"{name}: {question.title}"
            gap = data.decode().split("\n")[question.span.end : question.answer.span.start]
            assert all(not line.strip(" >") for line in gap), f"{name}: answer not after block"
    divisors = after["10_Wiki/Topics/Math/divisor-counting.md"].decode()
    assert "> [!success]" in divisors and "> 24" in divisors
    assert result.exit_code in (0, 1)


def test_only_owned_frontmatter_keys_and_one_changelog_row_change(vault: Path) -> None:
    before = notes(vault)
    run(str(vault), "--allow-exec")
    after = notes(vault)
    for name in before:
        old, new = before[name], after[name]
        if old == new:
            continue
        old_fm, new_fm = frontmatter_lines(old), frontmatter_lines(new)
        changed = set(new_fm) ^ set(old_fm)
        assert all(line.split(":")[0] in OWNED for line in changed), (name, changed)
        old_note, new_note = parsed(old), parsed(new)
        assert table_rows(new_note, new) == table_rows(old_note, old) + 1, name
        assert new_note.frontmatter is not None
        assert new_note.frontmatter.data["verification_status"] in ("verified", "consensus",
                                                                    "failed")  # fmt: skip
        if new_note.frontmatter.data["verification_status"] == "verified":
            assert str(new_note.frontmatter.data["last_reinforced"]) == date.today().isoformat()


def test_second_run_changes_nothing_and_asks_nothing(vault: Path) -> None:
    run(str(vault), "--allow-exec")
    first = notes(vault)
    report = report_of(run(str(vault), "--allow-exec"))
    assert notes(vault) == first
    assert report["totals"]["questions"] == 0
    assert report["totals"]["samples"] == 0
    assert not any(n["changed"] for n in report["notes"])


def test_editing_one_question_reruns_only_it(vault: Path) -> None:
    run(str(vault), "--allow-exec")
    path = vault / "10_Wiki/Topics/Math/gcd-and-lcm.md"
    text = path.read_text()
    path.write_text(text.replace("least common multiple of 12, 18 and 30?",
                                 "least common multiple of 12, 18 and 30 ?"))  # fmt: skip
    others = {k: v for k, v in notes(vault).items() if not k.endswith("gcd-and-lcm.md")}
    report = report_of(run(str(vault), "--allow-exec"))
    asked = [(n["path"], q["line"]) for n in report["notes"] for q in n["questions"]]
    assert asked == [("10_Wiki/Topics/Math/gcd-and-lcm.md", 70)]
    assert {k: v for k, v in notes(vault).items() if not k.endswith("gcd-and-lcm.md")} == others


def test_dry_run_prints_the_plan_and_a_quote_and_writes_nothing(vault: Path) -> None:
    before = notes(vault)
    argv = ["run", str(vault), "--provider", f"replay:{REPLAY}", "--dry-run", "--allow-exec"]
    result = CliRunner(env=NO_KEYS).invoke(cli, argv, catch_exceptions=False)
    assert notes(vault) == before
    assert not (vault / ".vaultttc" / "cache.sqlite").exists()  # not even the cache
    assert "would ask 10_Wiki/Topics/Math/divisor-counting.md:" in result.stdout
    assert "quote: $" in result.stdout and "worst case" in result.stdout


def test_code_tasks_need_consent_to_execute(vault: Path) -> None:
    kata = vault / "20_Projects/Katas/run-length-encoding.md"
    kata.write_text(kata.read_text().replace("  execute: true\n", ""))
    report = report_of(run(str(kata)))
    [question] = report["notes"][0]["questions"]
    assert question["verified"] is None
    assert "execution not allowed" in kata.read_text()
    consented = report_of(run(str(kata), "--allow-exec", "--force"))
    assert consented["notes"][0]["questions"][0]["verified"] is True


def test_one_bad_note_is_reported_and_the_rest_still_run(vault: Path) -> None:
    (vault / "10_Wiki" / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    result = run(str(vault), "--allow-exec")
    report = report_of(result)
    assert result.exit_code == 2
    errors = [n["error"] for n in report["notes"] if n["error"]]
    assert len(errors) == 1 and errors[0].startswith("10_Wiki/broken.md:2: malformed frontmatter")
    assert "> 24" in (vault / "10_Wiki/Topics/Math/divisor-counting.md").read_text()


@pytest.mark.parametrize("dry", [False, True])
def test_best_of_n_with_nothing_to_verify_is_bad_configuration(vault: Path, dry: bool) -> None:
    note = vault / "10_Wiki/Topics/Math/divisor-counting.md"
    text = note.read_text().replace("> expect:: 24\n", "")
    assert "expect::" not in text.split("How many")[1].split("\n\n")[0]
    note.write_text(text)
    result = run(str(note), "--strategy", "best-of-n", *(["--dry-run"] * dry))
    assert result.exit_code == 2  # found before any request, by a dry run too
    [error] = [n["error"] for n in report_of(result)["notes"] if n["error"]]
    assert error.startswith("10_Wiki/Topics/Math/divisor-counting.md:") and "verifier" in error
    assert note.read_text() == text


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ("samples = 3\nsampels = 4\n", "config.toml:2: unknown setting `sampels` (did you mean "
         "`samples`?)"),
        ('[providers.local]\nmodle = "m"\n', "config.toml:2: [providers.local] unknown setting "
         "`modle` (did you mean `model`?)"),
        ("samples = 3\n[providers.local]\nsamples = 4\n", "config.toml:3: [providers.local] "
         "unknown setting `samples` (it is a top-level setting"),
    ],
)  # fmt: skip
def test_a_setting_nothing_reads_is_an_error_at_its_line(vault: Path, toml: str, said: str) -> None:
    (vault / ".vaultttc" / "config.toml").write_text(toml)
    before = notes(vault)
    argv = [sys.executable, "-m", "vaultttc.cli.main", "run", str(vault), "--provider",
            f"replay:{REPLAY}"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2 and said in done.stderr
    assert notes(vault) == before


def test_a_bad_ttc_value_is_reported_where_the_ttc_is(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    text = "---\ntitle: t\nttc:\n  samples: lots\n---\n\n> [!question] What is 2+2?\n"
    note.write_text(text)
    result = run(str(tmp_path))
    [error] = [n["error"] for n in report_of(result)["notes"] if n["error"]]
    assert result.exit_code == 2 and note.read_text() == text
    assert error == "n.md:3: ttc: `samples` must be a number, not 'lots'"


def test_unconfigured_named_provider_is_a_clear_error(vault: Path) -> None:
    argv = ["run", str(vault / "10_Wiki/Topics/Math/divisor-counting.md"), "--provider",
            "anthropic"]  # fmt: skip
    result = CliRunner(env=NO_KEYS).invoke(cli, argv)
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY" in result.output


def test_an_unconfigured_provider_flag_is_said_once_for_the_whole_vault(vault: Path) -> None:
    before = notes(vault)
    argv = ["run", str(vault), "--provider", "openai", "--json"]
    result = CliRunner(env=NO_KEYS).invoke(cli, argv)
    assert result.exit_code == 2 and result.output.count("OPENAI_API_KEY") == 1
    assert notes(vault) == before


def test_consent_to_execute_does_not_reask_plain_questions(vault: Path) -> None:
    run(str(vault), "--allow-exec")
    report = report_of(run(str(vault)))
    asked = [q for n in report["notes"] for q in n["questions"]]
    assert asked == [], "toggling --allow-exec re-asked questions that run no code"


def test_a_note_named_twice_runs_once(vault: Path) -> None:
    note = vault / "10_Wiki/Topics/Math/divisor-counting.md"
    report = report_of(run(str(vault / "10_Wiki"), str(note), str(note.parent)))
    paths = [n["path"] for n in report["notes"]]
    assert len(paths) == len(set(paths))


def test_a_sample_budget_below_one_is_refused_with_the_line(vault: Path) -> None:
    note = vault / "10_Wiki/Topics/Math/divisor-counting.md"
    note.write_text(note.read_text().replace("> expect:: 24", "> expect:: 24\n> samples:: 0"))
    report = report_of(run(str(note)))
    [entry] = report["notes"]
    assert entry["error"] is not None
    assert ":107" in entry["error"] and "at least 1" in entry["error"]


def test_the_readmes_openai_compatible_command_works_with_model_and_base_url(
    vault: Path, stub: Any
) -> None:
    note = vault / "10_Wiki/Topics/Math/divisor-counting.md"
    argv = ["run", str(note), "--provider", "openai-compatible", "--base-url", stub.openai_url,
            "--model", "llama3.2", "--strategy", "direct", "--json"]  # fmt: skip
    result = CliRunner(env=NO_KEYS).invoke(cli, argv, catch_exceptions=False)
    report = report_of(result)
    [question] = report["notes"][0]["questions"]
    assert (question["provider"], question["model"]) == ("openai-compatible", "llama3.2")
    assert question["error"] is None
    assert [b["model"] for b in stub.bodies("chat")] == ["llama3.2"]


def test_answer_headers_count_what_backs_the_answer(vault: Path) -> None:
    run(str(vault), "--allow-exec")
    text = (vault / "10_Wiki/Topics/Math/modular-exponentiation.md").read_text()
    # samples:: 4 and all four recorded samples say 9: four agree, and the answer verifies
    assert "> [!success]- Verified · self-consistency 4 passed · 4 samples" in text
