"""Authored questions: Q&A the author wrote is theirs. Cases are data (tests/data/authored).

A question whose body holds anything besides `key:: value` fields, blank lines and a vaultttc
answer region is authored; `[!faq]` and `[!help]` are questions in every form `[!question]`
has; a fence inside a callout is closed by the callout's end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import DATA

from vaultttc.notes.parse import parse_note

CASES: list[dict[str, Any]] = json.loads((DATA / "authored" / "cases.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_a_question_is_authored_exactly_when_its_body_holds_the_authors_text(
    case: dict[str, Any],
) -> None:
    note = parse_note(case["note"], "n.md")
    assert [q.authored for q in note.questions] == [case["authored"]]


def test_an_answer_region_is_not_the_authors_text() -> None:
    text = (
        "> [!question] What is 6 times 7?\n> expect:: 42\n\n"
        "%% vaultttc:begin id=q-1 hash=abc verdict=verified confidence=0.90 %%\n"
        "> [!success]- Verified\n> 42\n%% vaultttc:end %%\n"
    )
    [question] = parse_note(text, "n.md").questions
    assert not question.authored and question.answer is not None


@pytest.mark.parametrize("lang", ["javascript", "rust", "java", "python"])
def test_a_fence_that_the_callouts_end_closes_is_not_an_error(lang: str) -> None:
    text = f"# N\n\n> [!example] Code\n> ```{lang}\n> let x = 1;\n\nAfter the callout.\n"
    note = parse_note(text, "n.md")
    assert [f.lang for f in note.fences] == [lang]
    assert note.fences[0].code == "let x = 1;\n"


def test_an_unclosed_fence_at_the_top_level_is_still_an_error() -> None:
    with pytest.raises(Exception, match=r"n\.md:3: unclosed code fence"):
        parse_note("# N\n\n```python\nx = 1\n", "n.md")


def test_scan_reports_authored_questions(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from vaultttc.cli.main import cli

    (tmp_path / "qa.md").write_text(CASES[0]["note"] + "\n" + CASES[10]["note"])
    result = CliRunner().invoke(cli, ["scan", str(tmp_path), "--json"], catch_exceptions=False)
    [entry] = json.loads(result.stdout)["notes"]
    questions = [b for b in entry["blocks"] if b["kind"] == "question"]
    assert [q.get("authored", False) for q in questions] == [True, False]
