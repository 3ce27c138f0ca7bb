"""`--vault-record`: the outcome of a note's examples written back into the note.

Data-driven: `tests/data/living/record/NAME.md` is recorded and must become `NAME.after.md`
byte for byte (`{today}` is today's date); recording again changes nothing.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from helpers import DATA

from vaultttc.living.examples import ExampleResult, ExamplesReport
from vaultttc.living.record import check_examples, open_questions, plan_record
from vaultttc.notes.parse import parse_note

pytest_plugins = ["pytester"]

RECORD = DATA / "living" / "record"
CASES = sorted(p for p in RECORD.glob("*.md") if not p.name.endswith(".after.md"))
QUIET = ("-p", "no:hypothesispytest", "-p", "no:anyio")


def record(pytester: pytest.Pytester, vault: Path, *extra: str) -> None:
    pytester.inline_run(*QUIET, "--vault", str(vault), "--vault-record", *extra)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_record_writes_outcome(case: Path, pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    note = vault / case.name
    shutil.copyfile(case, note)
    record(pytester, vault, "--allow-exec")
    after = case.with_name(case.stem + ".after.md").read_bytes()
    assert note.read_bytes() == after.replace(b"{today}", date.today().isoformat().encode())
    record(pytester, vault, "--allow-exec")
    assert note.read_bytes() == after.replace(b"{today}", date.today().isoformat().encode())


def test_nothing_recorded_without_consent(pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    shutil.copyfile(RECORD / "failing.md", vault / "failing.md")
    record(pytester, vault)
    assert (vault / "failing.md").read_bytes() == (RECORD / "failing.md").read_bytes()


def test_nothing_recorded_without_the_flag(pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    shutil.copyfile(RECORD / "failing.md", vault / "failing.md")
    pytester.inline_run(*QUIET, "--vault", str(vault), "--allow-exec").assertoutcome(
        passed=1, failed=2
    )
    assert (vault / "failing.md").read_bytes() == (RECORD / "failing.md").read_bytes()


def test_open_questions_block_verified() -> None:
    note = parse_note((RECORD / "open-question.md").read_text(encoding="utf-8"), "q.md")
    assert open_questions(note) == 1
    passed = ExamplesReport("q.md", (ExampleResult(note.examples[0], "passed", line=10),))
    assert plan_record(note, passed, today=date(2026, 6, 1)) is None


def test_a_run_where_nothing_ran_records_nothing() -> None:
    note = parse_note((RECORD / "passing.md").read_text(encoding="utf-8"), "p.md")
    skipped = ExamplesReport("p.md", (ExampleResult(note.examples[0], "skipped", "no"),))
    assert plan_record(note, skipped, today=date(2026, 6, 1)) is None
    passed = ExamplesReport("p.md", (ExampleResult(note.examples[0], "passed"),))
    writeback = plan_record(note, passed, today=date(2026, 6, 1))
    assert writeback is not None
    assert dict(writeback.frontmatter) == {
        "verification_status": "verified",
        "last_reinforced": "2026-06-01",
    }


def test_check_examples_runs_and_records_one_note(tmp_path: Path) -> None:
    note = tmp_path / "failing.md"
    shutil.copyfile(RECORD / "failing.md", note)
    report = check_examples(note, allow_exec=False, today=date(2026, 6, 1))
    assert {r.status for r in report.results} == {"skipped"}
    assert note.read_bytes() == (RECORD / "failing.md").read_bytes()
    report = check_examples(note, allow_exec=True, today=date(2026, 6, 1), display="failing.md")
    assert report.first_failure is not None and report.first_failure.line == 19
    expected = (RECORD / "failing.after.md").read_bytes().replace(b"{today}", b"2026-06-01")
    assert note.read_bytes() == expected


def test_fixing_a_failing_example_clears_failed_even_with_unverified_answers(
    tmp_path: Path,
) -> None:
    """Examples no longer fail, so `failed` goes; the questions' own answers decide the rest."""
    from datetime import date

    from vaultttc.living.examples import run_examples
    from vaultttc.living.record import record_outcome
    from vaultttc.notes.parse import parse_note

    note = tmp_path / "n.md"
    broken = (
        "---\nverification_status: pending\n---\n"
        "> [!question] Q?\n> id:: q-x\n\n%% vaultttc:begin id=q-x hash=h %%\n"
        "> [!info]- Consensus · vote 3/4 agree · confidence 0.70\n> 4\n%% vaultttc:end %%\n\n"
        "```python\nassert 1 == 2\n```\n"
    )
    note.write_text(broken)

    def record() -> str:
        parsed = parse_note(note.read_text(), "n.md")
        record_outcome(note, run_examples(parsed, allowed=True), today=date(2026, 1, 2))
        text = note.read_text()
        return str(parse_note(text, "n.md").frontmatter.data["verification_status"])  # type: ignore[union-attr]

    assert record() == "failed"
    note.write_text(note.read_text().replace("assert 1 == 2", "assert 1 == 1"))
    assert record() == "consensus"  # what its one answer earned, now no example fails
