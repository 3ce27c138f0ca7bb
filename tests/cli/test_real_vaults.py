"""Real vaults: answer only what the author asked, write only what was verified, follow the
vault's own conventions. Through the real CLI, on copies of vault_example and ../shared."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from helpers import REPO, shared
from stub_server import StubServer, stub_fixture  # noqa: F401

from vaultttc.cli.main import cli

NO_KEYS = {k: None for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")}
DEAD = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there


def invoke(*argv: str) -> Result:
    return CliRunner(env=NO_KEYS).invoke(cli, list(argv), catch_exceptions=False)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def replay(tmp_path: Path, samples: dict[str, list[str]]) -> str:
    path = tmp_path / "replay.jsonl"
    lines = [json.dumps({"question": q, "samples": s}) for q, s in samples.items()]
    path.write_text("\n".join(lines) + "\n")
    return f"replay:{path}"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    copy = tmp_path / "vault"
    shutil.copytree(REPO / "vault_example", copy)
    shutil.rmtree(copy / ".vaultttc" / "cache.sqlite", ignore_errors=True)
    with (copy / ".vaultttc" / "config.toml").open("a") as config:
        config.write("\n[providers.openai-compatible]\nmax_retries = 0\ntimeout_s = 5\n")
    return copy


def test_an_unreachable_provider_changes_no_byte_and_exits_3(example: Path) -> None:
    before = snapshot(example)
    result = invoke("run", str(example), "--provider", "openai-compatible", "--base-url", DEAD,
                    "--model", "m", "--strategy", "direct", "--json")  # fmt: skip
    assert result.exit_code == 3
    assert snapshot(example) == before
    report = json.loads(result.stdout)
    questions = [q for n in report["notes"] for q in n["questions"]]
    assert questions and {q["status"] for q in questions} == {"unanswered"}
    assert all(q["cause"] == "provider" and q["fix"] for q in questions)


def test_the_terminal_names_each_unanswered_question_and_its_fix(example: Path) -> None:
    result = invoke("run", str(example), "--provider", "openai-compatible", "--base-url", DEAD,
                    "--model", "m", "--strategy", "direct")  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.startswith("could not answer")]
    assert len(lines) >= 5
    assert all(".md:" in line and "vaultttc providers" in line for line in lines)


def test_an_unknown_strategy_exits_2_before_any_request(tmp_path: Path, stub: StubServer) -> None:
    note = tmp_path / "n.md"
    text = (
        "> [!question] What is 2 plus 3?\n\n> [!question] What is 3 plus 4?\n> strategy:: psychic\n"
    )
    note.write_text(text)
    result = invoke("run", str(tmp_path), "--provider", "openai-compatible", "--base-url",
                    stub.openai_url, "--model", "m")  # fmt: skip
    assert result.exit_code == 2
    assert "n.md:3" in result.stderr and "psychic" in result.stderr
    assert stub.count() == 0
    assert note.read_text() == text


def test_effort_on_a_server_without_it_exits_2_before_any_request(
    tmp_path: Path, stub: StubServer
) -> None:
    (tmp_path / "n.md").write_text("> [!question] What is 2 plus 3?\n> strategy:: effort\n")
    result = invoke("run", str(tmp_path), "--provider", "openai-compatible", "--base-url",
                    stub.openai_url, "--model", "m")  # fmt: skip
    assert result.exit_code == 2 and "no reasoning effort" in result.stderr
    assert stub.count() == 0


def test_an_open_question_gets_the_models_answer_as_stated(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("> [!question] What does Euclid's algorithm compute?\n\n"
                    "> [!question] Make 24 from 10, 4, 5 and 1.\n")  # fmt: skip
    provider = replay(tmp_path, {
        "What does Euclid's algorithm compute?": [
            "It repeats division.\nThe answer is: the greatest common divisor of the 2 numbers."],
        "Make 24 from 10, 4, 5 and 1.": ["The answer is: (10 - 4) * (5 - 1) = 24"],
    })  # fmt: skip
    invoke("run", str(tmp_path), "--provider", provider, "--strategy", "direct")
    text = note.read_text()
    assert "the greatest common divisor of the 2 numbers" in text
    assert "(10 - 4) * (5 - 1) = 24" in text


KOREAN = (
    "---\ntitle: {n}\n---\n# {n}\n\n## 🕓 Changelog\n\n"
    "| 날짜 | 변경 |\n|---|---|\n| 2026-01-0{n} | 작성 |\n"
)


def test_a_new_changelog_follows_the_vaults_own_convention(tmp_path: Path) -> None:
    for n in (1, 2):
        (tmp_path / f"k{n}.md").write_text(KOREAN.format(n=n))
    note = tmp_path / "q.md"
    note.write_text("# Q\n\n> [!question] What is 2 plus 3?\n> expect:: 5\n")
    invoke("run", str(tmp_path), "--provider", replay(tmp_path, {"What is 2 plus 3?": ["5"]}),
           "--strategy", "direct")  # fmt: skip
    text = note.read_text()
    assert "## 🕓 Changelog\n\n| 날짜 | 변경 |\n|---|---|\n|" in text
    assert "| Date |" not in text


def test_a_changelog_heading_with_prose_gets_its_table_after_the_prose(tmp_path: Path) -> None:
    note = tmp_path / "q.md"
    note.write_text("# Q\n\n> [!question] What is 2 plus 3?\n> expect:: 5\n\n"
                    "## Changelog\nKept by hand since 2024.\n\n## Links\n\nsee also\n")  # fmt: skip
    invoke("run", str(tmp_path), "--provider", replay(tmp_path, {"What is 2 plus 3?": ["5"]}),
           "--strategy", "direct")  # fmt: skip
    text = note.read_text()
    assert "## Changelog\nKept by hand since 2024.\n\n| Date | Change |\n|---|---|\n|" in text
    assert text.endswith("\n\n## Links\n\nsee also\n")


def test_a_note_with_an_owned_key_twice_is_reported_and_left_alone(tmp_path: Path) -> None:
    note = tmp_path / "q.md"
    text = ("---\nconfidence_score: 0.5\ntitle: t\nconfidence_score: 0.7\n---\n"
            "> [!question] What is 2 plus 3?\n")  # fmt: skip
    note.write_text(text)
    result = invoke("run", str(tmp_path), "--provider", replay(tmp_path, {"x": ["5"]}))
    assert result.exit_code == 2 and "q.md:4" in result.stderr
    assert note.read_text() == text


def test_a_read_only_note_is_reported_and_left_alone(tmp_path: Path) -> None:
    note = tmp_path / "q.md"
    note.write_text("> [!question] What is 2 plus 3?\n")
    os.chmod(note, 0o444)
    result = invoke(
        "run", str(tmp_path), "--provider", replay(tmp_path, {"What is 2 plus 3?": ["5"]})
    )
    assert "read-only" in result.stderr
    assert note.read_text() == "> [!question] What is 2 plus 3?\n"


def test_a_read_only_note_with_nothing_to_ask_is_not_reported(tmp_path: Path) -> None:
    (tmp_path / "prose.md").write_text("# Just prose\n\nNothing to ask here.\n")
    os.chmod(tmp_path / "prose.md", 0o444)
    result = invoke("run", str(tmp_path), "--provider", replay(tmp_path, {"x": ["5"]}))
    assert result.exit_code == 0 and "read-only" not in result.stderr


@pytest.mark.parametrize("corpus", ["kepano-obsidian", "obsidian-help-en"])
def test_a_real_vault_gets_no_request_and_no_change_for_its_authored_qa(
    tmp_path: Path, corpus: str
) -> None:
    copy = tmp_path / corpus
    shutil.copytree(shared("corpora", corpus), copy)
    before = snapshot(copy)
    provider = replay(tmp_path, {"a question no note asks": ["x"]})  # no samples for any note
    result = invoke("run", str(copy), "--provider", provider, "--json")
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["totals"]["questions"] == 0  # every question in these vaults is authored
    assert report["totals"]["notes_unreadable"] == 0
    assert result.exit_code == 0
    assert snapshot(copy) == before


AUTHORED = (
    "---\ntitle: t\n---\n# T\n\n"
    "> [!question] What is 6 times 7?\n> 42\n\n"
    "> [!faq]- Why is a tuple faster than a list?\n"
    "> Tuples are immutable, so CPython allocates them once and can reuse them.\n"
)


def test_authored_questions_are_never_asked_unless_the_author_is_checked(
    tmp_path: Path, stub: StubServer
) -> None:
    note = tmp_path / "n.md"
    note.write_text(AUTHORED)
    result = invoke("run", str(tmp_path), "--provider", "openai-compatible", "--base-url",
                    stub.openai_url, "--model", "m")  # fmt: skip
    assert result.exit_code == 0
    assert stub.count() == 0
    assert note.read_text() == AUTHORED


def test_checking_the_author_never_shows_the_model_their_answer_and_never_edits_it(
    tmp_path: Path,
) -> None:
    note = tmp_path / "n.md"
    note.write_text(AUTHORED)
    provider = replay(tmp_path, {
        "What is 6 times 7?": ["The answer is: 42"] * 4,
        "Why is a tuple faster than a list?": ["The answer is: tuples are immutable."] * 4
        + ["GRADE: 9"] * 4,
    })  # fmt: skip
    result = invoke("run", str(tmp_path), "--provider", provider, "--strategy", "direct",
                    "--check-authored", "--json")  # fmt: skip
    report = json.loads(result.stdout)
    assert len(report["notes"][0]["questions"]) == 2
    text = note.read_text()
    assert text.startswith("---\n")
    for line in AUTHORED.split("\n")[4:]:  # every line of the author's body is still there
        assert line in text
    assert "Agrees with the author" in text
    assert "(judged)" in text  # the long answer was compared by a judge, and says so


def test_a_confident_disagreement_with_the_author_disputes_the_note(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text("> [!question] What is 6 times 7?\n> check:: author\n> 41\n")
    provider = replay(tmp_path, {"What is 6 times 7?": ["The answer is: 42"] * 8})
    invoke("run", str(tmp_path), "--provider", provider, "--strategy", "self-consistency",
           "--samples", "8")  # fmt: skip
    text = note.read_text()
    assert "Disagrees with the author" in text
    assert "verification_status: disputed" in text
    assert "> 41\n" in text  # the author's answer stays as they wrote it
