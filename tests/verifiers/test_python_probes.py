"""The python verifier's runs also give each program's behaviour, when a batch holds more than
one distinct program: best-of-n with a test fence judges and compares its candidates in one
sandbox batch, as with a check, and the behaviours are what a separate probe run finds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from helpers import Scripted, sampler

from vaultttc.engine.code import extract_code
from vaultttc.engine.probes import probe_calls
from vaultttc.engine.tasks import Settings, Task, Verdict
from vaultttc.sandbox.parent import SandboxResult, arun_python_batch
from vaultttc.strategies.best_of_n import BestOfN
from vaultttc.strategies.shared import behaviour as behaviour_module
from vaultttc.strategies.shared.behaviour import behaviours
from vaultttc.verifiers import python as python_module
from vaultttc.verifiers.python import PythonVerifier

TASK = Task(id="c", question="Add.", kind="code",
            stub="def add(a: int, b: int) -> int:\n    '''Add.'''\n", entry_point="add",
            tests="assert add(1, 2) == 3\nassert add(-4, 4) == 0\n")  # fmt: skip


def _verdicts(programs: Sequence[str]) -> list[Verdict]:
    verifier = PythonVerifier(allow_exec=True, timeout_s=5.0)
    return asyncio.run(verifier.verify_many(programs, TASK))


def test_the_tests_run_gives_the_behaviour_a_separate_probe_run_finds() -> None:
    programs = [
        "def add(a, b):\n    return a + b\n",
        "def add(a, b):\n    return b + a if a != 7 else 0\n",
        "def add(a, b):\n    return a - b\n",
        "def add(a, b=1 // 0):\n    return a + b\n",  # raises as it is defined: no tests ran
    ]
    assert [extract_code(p, stub=TASK.stub, entry_point="add") for p in programs] == programs
    found = _verdicts(programs)
    assert [v.passed for v in found] == [True, True, False, False]
    assert all(v.probed for v in found), [v.detail for v in found]
    separate = asyncio.run(behaviours(programs, probe_calls(TASK), task=TASK, timeout_s=5.0))
    assert [v.behaviour for v in found] == separate
    assert separate[3] is None and separate[0] == separate[1] != separate[2]


def test_a_lone_program_is_not_probed() -> None:
    [verdict] = _verdicts(["def add(a, b):\n    return a + b\n"])
    assert verdict.passed and not verdict.probed and verdict.behaviour is None


def test_best_of_n_with_tests_runs_each_program_once() -> None:
    right, other, wrong = (f"def add(a, b):\n    return {body}\n" for body in
                           ("a + b", "b + a", "a * b"))  # fmt: skip
    drawn = [right, wrong, other, right, wrong]
    batches: list[int] = []

    async def counting(programs: Sequence[str], **kwargs: Any) -> list[SandboxResult]:
        batches.append(len(programs))
        return await arun_python_batch(programs, **kwargs)

    replies = [f"```python\n{program}```" for program in drawn]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(python_module, "arun_python_batch", counting)
        patch.setattr(behaviour_module, "arun_python_batch", counting)
        outcome = asyncio.run(BestOfN().run(
            TASK, Settings(samples=5), sampler=sampler(Scripted(replies), 5),
            verifier=PythonVerifier(allow_exec=True, timeout_s=5.0),
        ))  # fmt: skip
    assert batches == [3]  # the three distinct programs, judged and probed together
    assert (outcome.status, outcome.passed, outcome.agreed) == ("verified", 3, 3)
    assert outcome.code == right
