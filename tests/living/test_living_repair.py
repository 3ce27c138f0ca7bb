"""`vaultttc test --repair [--apply]` with the replay provider, on `tests/data/living/repair/`.

`mean.md` has one failing example (a misspelt name). `fixes.jsonl` answers with a candidate
that drops the example's assert, one that fails it, then a correct one: the third is proposed
(`mean.proposed`), `vaultttc clean` takes the note back byte for byte, and `--apply` puts it
in place with a changelog row (`mean.applied`). `hopeless.jsonl` only has candidates that
claim success, leave early, or hide the assert: nothing is written. Candidates are judged by
the example's own checks, run in the sandbox, never by what they print about themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from helpers import DATA, Scripted, edit_after_first_read

from vaultttc.engine.sampling import CostMeter
from vaultttc.living.examples import ExampleOptions, run_examples
from vaultttc.living.proposals import keeps_expectations
from vaultttc.living.repair import RepairSettings, repair_note
from vaultttc.notes.clean import clean_text
from vaultttc.notes.parse import parse_note
from vaultttc.providers.base import Pricing
from vaultttc.providers.replay import ReplayProvider
from vaultttc.vault.cache import SqliteCache
from vaultttc.vault.ledger import load as load_ledger

pytest_plugins = ["pytester"]

REPAIR = DATA / "living" / "repair"
QUIET = ("-p", "no:hypothesispytest", "-p", "no:anyio")
NOTE = (REPAIR / "mean.md").read_text(encoding="utf-8")


def expected(name: str, *, path: str = "vault/mean.md", replay: str = "fixes") -> str:
    text = (REPAIR / name).read_text(encoding="utf-8").replace("{date}", date.today().isoformat())
    provider = f"replay:{REPAIR / f'{replay}.jsonl'}/replay-{replay}"
    return text.replace("{path}", path).replace("{provider}", provider)


def repair(pytester: pytest.Pytester, replay: str, *more: str) -> tuple[Path, list[str]]:
    vault = pytester.mkdir("vault") if not (pytester.path / "vault").exists() else None
    note = pytester.path / "vault" / "mean.md"
    if vault is not None:
        note.write_text(NOTE, encoding="utf-8")
    args = ["--vault", str(pytester.path / "vault"), "--allow-exec", "--vault-repair"]
    args += [f"--vault-provider=replay:{REPAIR / f'{replay}.jsonl'}", *more]
    result = pytester.runpytest_inprocess(*QUIET, *args)
    return note, [line for line in result.outlines if "fix" in line and "::" not in line]


def test_a_correct_candidate_after_two_wrong_ones_is_proposed(pytester: pytest.Pytester) -> None:
    note, lines = repair(pytester, "fixes")
    assert lines == ["proposed a fix for vault/mean.md:10 (candidate 3 of 4)"]
    assert note.read_text(encoding="utf-8") == expected("mean.proposed")
    with SqliteCache(note.parent / ".vaultttc" / "cache.sqlite") as cache:
        assert len(cache) == 3  # the three candidates drawn: a re-run draws them from here
    again, lines = repair(pytester, "hopeless")  # proposed already: nothing is drawn again
    assert lines == ["a fix for vault/mean.md:10 is already proposed"]
    assert again.read_text(encoding="utf-8") == expected("mean.proposed")
    assert clean_text(parse_note(expected("mean.proposed"), "mean.md")) == NOTE


def test_no_passing_candidate_writes_nothing(pytester: pytest.Pytester) -> None:
    note, lines = repair(pytester, "hopeless", "--vault-samples=3")
    assert lines == ["no passing fix for vault/mean.md:10 among 3 candidate(s); nothing written"]
    assert note.read_text(encoding="utf-8") == NOTE


def test_a_repl_session_keeps_its_expected_outputs(pytester: pytest.Pytester) -> None:
    """A candidate that rewrites the session's expected output is not even run."""
    vault = pytester.mkdir("vault")
    shutil.copyfile(REPAIR / "repl.md", vault / "repl.md")
    args = [f"--vault-provider=replay:{REPAIR / 'repl.jsonl'}", "--vault-samples=2"]
    result = pytester.runpytest_inprocess(*QUIET, "--vault", str(vault), "--allow-exec",
                                          "--vault-repair", *args)  # fmt: skip
    assert "proposed a fix for vault/repl.md:4 (candidate 2 of 2)" in result.outlines
    text = (vault / "repl.md").read_text(encoding="utf-8")
    assert "> +>>> math.sqrt(16)\n>  4.0\n" in text and "1 REPL output" in text
    assert text.startswith((REPAIR / "repl.md").read_text(encoding="utf-8"))


def test_apply_puts_the_proposal_in_place(pytester: pytest.Pytester) -> None:
    repair(pytester, "fixes")
    note, lines = repair(pytester, "fixes", "--vault-apply")
    assert lines == ["applied the proposed fix at vault/mean.md:10"]
    assert note.read_text(encoding="utf-8") == expected("mean.applied")
    result = pytester.runpytest_inprocess(*QUIET, "--vault", str(note.parent), "--allow-exec")
    result.assert_outcomes(passed=1)


def test_apply_leaves_a_proposal_for_code_edited_since(pytester: pytest.Pytester) -> None:
    repair(pytester, "fixes")
    note = pytester.path / "vault" / "mean.md"
    old, new = "print(mean([2, 4]))\n```\n\n```output", "print(mean([6]))\n```\n\n```output"
    edited = note.read_text(encoding="utf-8").replace(old, new, 1)
    assert edited != note.read_text(encoding="utf-8")
    note.write_text(edited, encoding="utf-8")
    _, lines = repair(pytester, "fixes", "--vault-apply")
    assert lines == []
    assert note.read_text(encoding="utf-8") == edited


def test_apply_reruns_a_proposal_and_leaves_one_the_note_no_longer_accepts(
    pytester: pytest.Pytester,
) -> None:
    """After the fix was proposed the author added an example before it that shadows `sum`:
    the example's own code is unchanged, but the fix fails in the note as it is now, so it
    stays a proposal and the example is left as written."""
    repair(pytester, "fixes")
    note = pytester.path / "vault" / "mean.md"
    prose = "The mean of a list is its sum over its length.\n"
    shadow = prose + "\n```python\nsum = lambda xs: 0\n```\n"
    edited = note.read_text(encoding="utf-8").replace(prose, shadow, 1)
    note.write_text(edited, encoding="utf-8")
    _, lines = repair(pytester, "fixes", "--vault-apply")
    assert lines == ["not applied at vault/mean.md:14: the proposed fix no longer passes the "
                     "note as it is now (the proposal is kept)"]  # fmt: skip
    assert note.read_text(encoding="utf-8") == edited


def test_apply_without_consent_puts_nothing_in_place(pytester: pytest.Pytester) -> None:
    """Putting a proposal in place runs it again first: without consent nothing runs, so
    nothing is put in place."""
    repair(pytester, "fixes")
    note = pytester.path / "vault" / "mean.md"
    proposed = note.read_text(encoding="utf-8")
    result = pytester.runpytest_inprocess(*QUIET, "--vault", str(note.parent), "--vault-repair",
                                          "--vault-apply")  # fmt: skip
    result.assert_outcomes(skipped=1)
    assert not [line for line in result.outlines if "applied" in line]
    assert note.read_text(encoding="utf-8") == proposed


def test_a_concurrent_edit_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mean.md"
    path.write_text(NOTE, encoding="utf-8")
    report = run_examples(parse_note(NOTE, "mean.md"), allowed=True)
    reads = edit_after_first_read(monkeypatch, path, NOTE + "\nA line the author added.\n")
    settings = RepairSettings(date.today().isoformat())
    lines = repair_note(path, report, provider=ReplayProvider(REPAIR / "fixes.jsonl"),
                        settings=settings)  # fmt: skip
    assert lines == ["proposed a fix for mean.md:10 (candidate 3 of 4)"]
    assert len(reads) == 2  # the save's read, and its re-plan on the edited note
    want = expected("mean.proposed", path="mean.md") + "\nA line the author added.\n"
    assert path.read_text(encoding="utf-8") == want


def test_a_candidate_that_exits_early_fails() -> None:
    """`sys.exit(0)` passes an author's example; a candidate may not skip its checks so."""
    note = parse_note("```python\nimport sys\nsys.exit(0)\nassert False\n```\n", "n.md")
    assert run_examples(note, allowed=True).results[0].status == "passed"
    strict = ExampleOptions(exit_ok=False)
    assert run_examples(note, allowed=True, options=strict).results[0].status == "failed"


@pytest.mark.parametrize(
    ("author", "candidate", "kept"),
    [
        ("assert f(1) == 2\n", "def f(x):\n    return 2 * x\nassert f(1) == 2\n", True),
        ("assert f(1) == 2\n", "print(2)\n", False),
        ("assert f(1) == 2\n", "if False:\n    assert f(1) == 2\n", False),
        ("assert f(1) == 2\n", "try:\n    assert f(1) == 2\nexcept Exception:\n    pass\n", False),
        (
            "total = sum([1, 2)\nassert total == 3\n",
            "total = sum([1, 2])\nassert total == 3\n",
            True,
        ),
        ("total = sum([1, 2)\nassert total == 3\n", "total = sum([1, 2])\n", False),
        ("total = sum([1, 2)\nassert total == 3\n", "if 0:\n    assert total == 3\n", False),
        (">>> 1 + 1\n2\n", ">>> 2 * 1\n2\n", True),
        (">>> 1 + 1\n2\n", ">>> 1 + 2\n3\n", False),
    ],
)
def test_a_candidate_keeps_the_examples_own_checks(author: str, candidate: str, kept: bool) -> None:
    example = parse_note(f"```python\n{author}```\n", "n.md").examples[0]
    assert keeps_expectations(example, candidate) is kept


def vaultttc(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "vaultttc.cli.main", *args]
    run_env = {**os.environ, **env}
    return subprocess.run(argv, cwd=cwd, env=run_env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "case",
    [
        (["--repair"], {}, "--repair runs candidate fixes: add --allow-exec"),
        (["--apply", "--allow-exec"], {}, "--apply goes with --repair"),
        (["--repair", "--allow-exec", "--provider", "anthropic"], {"ANTHROPIC_API_KEY": ""},
         "ANTHROPIC_API_KEY"),
    ],
)  # fmt: skip
def test_repair_needs_consent_and_a_provider(
    tmp_path: Path, case: tuple[list[str], dict[str, str], str]
) -> None:
    args, env, message = case
    shutil.copyfile(REPAIR / "mean.md", tmp_path / "mean.md")
    done = vaultttc(tmp_path, "test", "mean.md", *args, env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "test session starts" not in done.stdout
    assert (tmp_path / "mean.md").read_text(encoding="utf-8") == NOTE


@pytest.mark.parametrize("case", [
    (2.007, "not repaired mean.md:10: after 2 candidate(s), the budget of $2.0070 is spent", 2),
    (None, "proposed a fix for mean.md:10 (candidate 3 of 4)", 3),
])  # fmt: skip
def test_repair_spends_within_the_budget_and_records_what_it_spent(
    tmp_path: Path, case: tuple[float | None, str, int]
) -> None:
    """Each draw is reserved at its worst case ($2: 2,000 output tokens at $1,000 a million)
    before it is sent; it costs $0.005. A cap of $2.007 pays for two: the third, which would
    pass, is never drawn, and nothing is written. The ledger has what was spent either way."""
    cap, line, drawn = case
    path = tmp_path / "mean.md"
    path.write_text(NOTE, encoding="utf-8")
    report = run_examples(parse_note(NOTE, "mean.md"), allowed=True)
    [recorded] = [json.loads(row) for row in (REPAIR / "fixes.jsonl").read_text().splitlines()]
    provider = Scripted(recorded["samples"], price=Pricing(output=1000.0))
    settings = RepairSettings(date.today().isoformat(), meter=CostMeter(cap_usd=cap))
    ledger = tmp_path / "spend.jsonl"
    lines = repair_note(path, report, provider=provider, settings=settings, ledger=ledger)
    assert lines == [line]
    assert len(provider.requests) == drawn
    assert (path.read_text(encoding="utf-8") == NOTE) is (cap is not None)
    [spend] = load_ledger(ledger)
    assert (spend.samples, spend.usd, spend.output_tokens) == (drawn, 0.005 * drawn, 5 * drawn)
    assert settings.meter.spent_usd == pytest.approx(0.005 * drawn)
