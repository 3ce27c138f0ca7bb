"""An answer the note no longer takes is never reported as a verdict: the author edits the
question (or deletes the note) while the real OpenAI SDK's request is at the stub server; the
note keeps the author's bytes, and the report says the question was left unanswered and why,
with no "failed verification" line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from stub_server import Reply, StubServer, chat_body

from vaultttc.cli.main import cli

NOTE = "# Sums\n\n> [!question] What is 12 * 12?\n> expect:: 100\n"
EDITED = NOTE.replace("12 * 12", "10 * 10")


def _run(stub: StubServer, vault: Path) -> tuple[int, dict[str, Any], str]:
    argv = ["run", str(vault), "--provider", "openai-compatible", "--base-url",
            stub.openai_url, "--model", "stub-model", "--strategy", "direct", "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    [note] = json.loads(result.stdout)["notes"]
    return result.exit_code, note, result.stderr


@pytest.mark.parametrize("author", ["edits", "deletes"])
def test_an_answer_the_note_no_longer_takes_is_no_verdict(
    stub: StubServer, tmp_path: Path, author: str
) -> None:
    note = tmp_path / "sums.md"
    note.write_text(NOTE, encoding="utf-8")

    def meanwhile_then_answer(body: dict[str, Any]) -> Reply:  # while the model answers
        note.write_text(EDITED, encoding="utf-8") if author == "edits" else note.unlink()
        return Reply(body=chat_body("The answer is 144."))  # wrong for the old question too

    stub.enqueue("chat", meanwhile_then_answer)
    code, report, stderr = _run(stub, tmp_path)
    [question] = report["questions"]
    cause = "edited" if author == "edits" else "unsaved"
    assert (question["status"], question["cause"], question["verified"], question["answer"]) == (
        "unanswered", cause, None, None,
    )  # fmt: skip
    assert code == 3 and "failed verification" not in stderr  # asked, and left untouched
    if author == "edits":
        assert "next run" in question["fix"] and note.read_text(encoding="utf-8") == EDITED
    else:
        assert "sums.md" in report["error"] and not note.exists()  # nothing recreated it
