"""`--vault-update` beyond the data-driven case (`tests/data/living/update.*`): the plan is
pure, an example edited since it ran is left alone, and a concurrent edit is never lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import DATA, edit_after_first_read

from vaultttc.living.examples import ExampleResult, ExamplesReport
from vaultttc.living.update import plan_update, update_outputs
from vaultttc.notes.parse import parse_note

NOTE = (DATA / "living" / "update.md").read_text(encoding="utf-8")
FIXED = NOTE.replace("count: 4\ndone", "count: 3\ndone")


def stale_report(text: str) -> ExamplesReport:
    """The first example failed only on its output: it printed `count: 3`."""
    example = parse_note(text, "n.md").examples[0]
    result = ExampleResult(
        example, "failed", "stdout differs", example.line, "", "count: 3\ndone\n"
    )
    return ExamplesReport("n.md", (result,))


def test_plan_rewrites_only_the_stale_output() -> None:
    assert plan_update(parse_note(NOTE, "n.md"), stale_report(NOTE)) == FIXED


def test_an_example_edited_since_it_ran_is_left_alone() -> None:
    edited = NOTE.replace('print("count:", 3)', 'print("count:", 5)')
    assert plan_update(parse_note(edited, "n.md"), stale_report(NOTE)) is None


def test_a_passing_run_plans_nothing() -> None:
    note = parse_note(NOTE, "n.md")
    passed = ExamplesReport("n.md", (ExampleResult(note.examples[0], "passed"),))
    assert plan_update(note, passed) is None


def test_a_concurrent_edit_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "n.md"
    path.write_text(NOTE, encoding="utf-8")
    reads = edit_after_first_read(monkeypatch, path, NOTE + "\nA line the author added.\n")
    assert update_outputs(path, stale_report(NOTE)) == 1
    assert len(reads) == 2
    assert path.read_text(encoding="utf-8") == FIXED + "\nA line the author added.\n"
