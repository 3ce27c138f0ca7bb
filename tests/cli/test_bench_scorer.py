"""The strategies benchmark's scorer on tiny pools with known answers: examples become asserts,
the vault goes through `vaultttc run`'s path with the replay provider, written answers are read
back from the notes and scored against gold (code: the hidden `check()` in the sandbox)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from helpers import REPO


def _bench() -> ModuleType:
    if str(REPO / "bench") not in sys.path:  # its sibling modules (stopping.py), as when run
        sys.path.insert(0, str(REPO / "bench"))
    spec = importlib.util.spec_from_file_location(
        "bench_strategies", REPO / "bench" / "strategies.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _bench()

DOCTEST = '''def double(xs: list) -> list:
    """Double every item.
    >>> double([1, 2])
    [2, 4]
    >>> double([])  # nothing
    []
    """
'''
PROSE = '''def shout(word, times):
    """Repeat the word in upper case.
    Examples:
    shout("hi", 2) ➞ "HIHI"
    shout(hey, 1) => 'HEY' (bare words are strings)
    shout("a", 0) should return "".
    For word = "ab", times = 1 the output should be "AB"
    """
'''


def test_docstring_examples_become_asserts() -> None:
    assert bench.docstring_asserts(DOCTEST, "double") == [
        "assert double([1, 2]) == [2, 4]",
        "assert double([]) == []",
    ]
    assert bench.docstring_asserts(PROSE, "shout") == [
        "assert shout('hi', 2) == 'HIHI'",
        "assert shout('hey', 1) == 'HEY'",
        "assert shout('a', 0) == ''",
        "assert shout(word='ab', times=1) == 'AB'",
    ]


def _pool(tmp_path: Path, rows: list[dict[str, object]]) -> str:
    (tmp_path / "pools").mkdir()
    (tmp_path / "pools" / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return "tiny.jsonl"


def test_a_tiny_date_pool_scores_the_written_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    right = "The answer is 05/01/2021."
    wrong = "The answer is 04/30/2021."
    pool = _pool(
        tmp_path,
        [
            {
                "problem_id": "date/1",
                "question": "Yesterday was April 30, 2021. What is the date today in MM/DD/YYYY?",
                "gold": "05/01/2021",
                "samples": [right, right, wrong],
            },
            {
                "problem_id": "date/2",
                "question": "Tomorrow is May 2, 2021. What is the date today in MM/DD/YYYY?",
                "gold": "05/01/2021",
                "samples": [wrong, right, wrong],
            },
        ],
    )
    monkeypatch.setattr(bench, "POOLS", tmp_path / "pools")
    [scored] = asyncio.run(
        bench.bench_pool(
            "tiny", pool, [("self-consistency", 0)], limit=None, work=tmp_path / "work"
        )
    )
    assert (scored.accuracy, scored.samples, scored.errors) == (50.0, 3.0, 0)
    assert [ok for _, ok in scored.pairs] == [True, False]
    notes = "".join(p.read_text() for p in (tmp_path / "work" / "tiny").glob("*.md"))
    assert "> 05/01/2021" in notes and "> 04/30/2021" in notes and "gold" not in notes
    # Both votes are 2 of 3, so both answers share one confidence bin with accuracy 1/2.
    [(first, _), (second, _)] = scored.pairs
    assert first == second and scored.ece == pytest.approx(abs(first - 0.5))


def test_code_is_scored_by_the_hidden_check() -> None:
    gold = {"entry_point": "inc", "test": "def check(f):\n    assert f(1) == 2\n"}
    problems = [
        bench.Problem("a", gold, ""),
        bench.Problem("b", gold, ""),
        bench.Problem("c", gold, ""),
    ]
    written = {
        "a": bench.Written("", "def inc(x):\n    return x + 1\n", 0.9),
        "b": bench.Written("", "def inc(x):\n    return x\n", 0.9),
    }
    cache: dict[str, bool] = {}
    assert asyncio.run(bench.score_code(problems, written, cache)) == [True, False, False]
    assert len(cache) == 3
    assert asyncio.run(bench.score_code(problems[:1], written, cache)) == [True]


def test_examples_become_a_check_fence_that_runs_the_candidate() -> None:
    from vaultttc.notes.parse import parse_note

    asserts = bench.docstring_asserts(DOCTEST, "double")
    block = bench.check_block("d", "double", stub=DOCTEST, asserts=asserts)
    [question] = parse_note(block, "n.md").questions
    assert question.kind == "code" and question.test is None and question.check is not None
    assert question.check.code.splitlines() == asserts  # they call the candidate's `double`
    bare = bench.check_block("d", "double", stub=DOCTEST, asserts=[])
    assert parse_note(bare, "n.md").questions[0].check is None
