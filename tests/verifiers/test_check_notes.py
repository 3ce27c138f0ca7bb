"""Questions with a `python check` fence, run end to end as `vaultttc run` runs them.

Cases are data: `tests/data/check/notes/NAME.md` is a note and `NAME.json` holds the samples the
replay provider plays for its question, whether execution is allowed (`allow_exec`, default
true), and what must come of it (`expect`): the question's `status`, `answer` or `code`,
`strategy`, `cause`, substrings of its `note`, `error` and written answer `region`, and
`unchanged` when the note must keep every byte. Each runs through `run_paths` (the library
call of `vaultttc run`) with the real parser, strategies, check verifier and sandbox.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import DATA

from vaultttc.engine.report import QuestionReport
from vaultttc.engine.runner import RunOptions
from vaultttc.vault.session import RunContext, run_paths

CASES = DATA / "check" / "notes"
NAMES = sorted(p.stem for p in CASES.glob("*.md"))


def run_case(tmp_path: Path, name: str) -> tuple[QuestionReport, str, str, int]:
    case: dict[str, Any] = json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))
    vault = tmp_path / "vault"
    (vault / ".vaultttc").mkdir(parents=True)
    note = vault / "note.md"
    before = (CASES / f"{name}.md").read_text(encoding="utf-8")
    note.write_text(before, encoding="utf-8")
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"question": case["question"], "samples": case["samples"]}))
    cli: dict[str, Any] = {"provider": f"replay:{replay}"}
    if case.get("allow_exec", True):
        cli["execute"] = True
    context = RunContext(options=RunOptions(cli=cli), env={}, today=lambda: date(2026, 1, 2))
    report = asyncio.run(run_paths([note], context))
    [entry] = report.notes
    assert entry.error is None, entry.error
    [question] = entry.questions
    return question, before, note.read_text(encoding="utf-8"), report.exit_code


@pytest.mark.parametrize("name", NAMES)
def test_check_cases(tmp_path: Path, name: str) -> None:
    expect = json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))["expect"]
    question, before, after, exit_code = run_case(tmp_path, name)
    assert question.status == expect["status"], (question.error, question.note)
    if "answer" in expect:
        assert question.answer == expect["answer"]
    if "code" in expect:
        assert question.answer is not None and expect["code"] in question.answer
    if "strategy" in expect:
        assert question.strategy == expect["strategy"]
    assert question.cause == expect.get("cause")
    for part in expect.get("note", []):
        assert part in question.note
    for part in expect.get("error", []):
        assert question.error is not None and part in question.error
    for part in expect.get("region", []):
        assert part in after, after
    if expect.get("unchanged"):
        assert after == before
        assert (question.samples_used, exit_code) == (0, 3)  # nothing drawn; exit 3: unanswered
    else:
        assert "%% vaultttc:begin" in after
    if expect["status"] == "verified":
        assert "verification_status: verified" not in before
        assert "2026-01-02" in after


def test_a_check_that_does_not_parse_is_a_configuration_error_before_any_request(
    tmp_path: Path,
) -> None:
    vault = tmp_path / "vault"
    (vault / ".vaultttc").mkdir(parents=True)
    note = vault / "note.md"
    text = "# Primes\n\n> [!question] Give two primes.\n\n```python check\nassert (answer\n```\n"
    note.write_text(text, encoding="utf-8")
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"question": "Give two primes.", "samples": ["2, 3"]}))
    cli = {"provider": f"replay:{replay}", "execute": True}
    context = RunContext(options=RunOptions(cli=cli), env={}, today=lambda: date(2026, 1, 2))
    report = asyncio.run(run_paths([note], context))
    [entry] = report.notes
    assert entry.error is not None and "note.md:3" in entry.error
    assert "python check fence does not parse" in entry.error
    assert (report.exit_code, note.read_text(encoding="utf-8")) == (2, text)
