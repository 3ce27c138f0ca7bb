"""Behaviour from the run that judges: a check on code, or a test fence with several distinct
programs to compare, makes the probe calls in the same run as its verdict. The behaviours are
what a separate probe run finds, and best-of-n judges and compares its candidates in one
sandbox batch."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pytest
from helpers import Scripted, sampler

from vaultttc.engine.code import extract_code
from vaultttc.engine.probes import probe_calls
from vaultttc.engine.tasks import Settings, Task
from vaultttc.sandbox.parent import SandboxResult, arun_python_batch
from vaultttc.strategies.best_of_n import BestOfN
from vaultttc.strategies.shared import behaviour as behaviour_module
from vaultttc.strategies.shared.behaviour import behaviours
from vaultttc.verifiers import check as check_module
from vaultttc.verifiers import python as python_module
from vaultttc.verifiers.check import CheckVerifier
from vaultttc.verifiers.python import PythonVerifier

STUB = "def add(a: int, b: int) -> int:\n    '''Add.'''\n"
ASSERTS = "assert add(1, 2) == 3\nassert add(-4, 4) == 0\n"
CODE = Task(id="c", question="Add.", kind="code", stub=STUB, entry_point="add")
JUDGED: dict[str, tuple[Task, ModuleType]] = {  # the task checked each way, and its verifier's
    "check": (dataclasses.replace(CODE, check=ASSERTS), check_module),
    "tests": (dataclasses.replace(CODE, tests=ASSERTS), python_module),
}


def _verifier(way: str) -> CheckVerifier | PythonVerifier:
    kind = CheckVerifier if way == "check" else PythonVerifier
    return kind(allow_exec=True, timeout_s=5.0)


@pytest.mark.parametrize("way", JUDGED)
def test_the_judging_run_gives_the_behaviour_a_separate_probe_run_finds(way: str) -> None:
    task, _ = JUDGED[way]
    programs = [
        "def add(a, b):\n    return a + b\n",
        "def add(a, b):\n    return b + a if a != 7 else 0\n",
        "def add(a, b):\n    return a - b\n",
        "def add(a, b=1 // 0):\n    return a + b\n",  # raises as it is defined: never judged
    ]
    assert [extract_code(p, stub=STUB, entry_point="add") for p in programs] == programs
    found = asyncio.run(_verifier(way).verify_many(programs, task))
    assert [v.passed for v in found] == [True, True, False, False]
    assert all(v.probed for v in found), [v.detail for v in found]
    separate = asyncio.run(behaviours(programs, probe_calls(task), task=task, timeout_s=5.0))
    assert [v.behaviour for v in found] == separate
    assert separate[3] is None and separate[0] == separate[1] != separate[2]


def test_a_lone_program_under_tests_is_not_probed() -> None:
    task, _ = JUDGED["tests"]
    program = "def add(a, b):\n    return a + b\n"
    [verdict] = asyncio.run(_verifier("tests").verify_many([program], task))
    assert verdict.passed and not verdict.probed and verdict.behaviour is None


@pytest.mark.parametrize("way", JUDGED)
def test_best_of_n_runs_each_program_once(way: str) -> None:
    task, module = JUDGED[way]
    right, other, wrong = (f"def add(a, b):\n    return {body}\n" for body in
                           ("a + b", "b + a", "a * b"))  # fmt: skip
    drawn = [right, wrong, other, right, wrong]
    batches: list[int] = []

    async def counting(programs: Sequence[str], **kwargs: Any) -> list[SandboxResult]:
        batches.append(len(programs))
        return await arun_python_batch(programs, **kwargs)

    replies = [f"```python\n{program}```" for program in drawn]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "arun_python_batch", counting)
        patch.setattr(behaviour_module, "arun_python_batch", counting)
        outcome = asyncio.run(BestOfN().run(
            task, Settings(samples=5), sampler=sampler(Scripted(replies), 5),
            verifier=_verifier(way),
        ))  # fmt: skip
    assert batches == [3]  # the three distinct programs, judged and probed together
    assert (outcome.status, outcome.passed, outcome.agreed) == ("verified", 3, 3)
    assert outcome.code == right  # the first of the agreeing group that passed
