"""An answer the note no longer takes is never reported as a verdict: the author edits the
question (or deletes the note) while the real OpenAI SDK's request is at the stub server; the
note keeps the author's bytes, and the report says the question was left unanswered and why,
with no "failed verification" line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def test_a_question_edited_while_it_is_asked_is_left_for_the_next_run(
    stub: StubServer, tmp_path: Path
) -> None:
    note = tmp_path / "sums.md"
    note.write_text(NOTE, encoding="utf-8")

    def edit_then_answer(body: dict[str, Any]) -> Reply:
        note.write_text(EDITED, encoding="utf-8")  # the author, while the model answers
        return Reply(body=chat_body("The answer is 144."))  # wrong for the old question too

    stub.enqueue("chat", edit_then_answer)
    code, report, stderr = _run(stub, tmp_path)
    [question] = report["questions"]
    assert (question["status"], question["cause"], question["verified"]) == (
        "unanswered", "edited", None,
    )  # fmt: skip
    assert question["answer"] is None and "next run" in question["fix"]
    assert code == 3 and "failed verification" not in stderr
    assert note.read_text(encoding="utf-8") == EDITED


def test_a_note_deleted_while_it_is_asked_reports_no_verdict(
    stub: StubServer, tmp_path: Path
) -> None:
    note = tmp_path / "sums.md"
    note.write_text(NOTE, encoding="utf-8")

    def delete_then_answer(body: dict[str, Any]) -> Reply:
        note.unlink()
        return Reply(body=chat_body("The answer is 144."))

    stub.enqueue("chat", delete_then_answer)
    code, report, stderr = _run(stub, tmp_path)
    [question] = report["questions"]
    assert (question["status"], question["cause"]) == ("unanswered", "unsaved")
    assert report["error"] and "sums.md" in report["error"]
    assert code == 3 and "failed verification" not in stderr  # asked, and left untouched
    assert not note.exists()  # nothing recreated it
