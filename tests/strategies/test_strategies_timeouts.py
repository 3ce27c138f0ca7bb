"""Candidates that never finish: they are verified at once, and never run again for agreement.

Through best-of-n, the real python and check verifiers and the real sandbox; what is counted
is the jails started and the runs each one was given (`parent._spawn`), never wall time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import ask

from vaultttc.engine.tasks import Task
from vaultttc.sandbox import parent
from vaultttc.verifiers.check import CheckVerifier
from vaultttc.verifiers.python import PythonVerifier

STUB = 'def add_one(x):\n    """Return x plus one."""\n'
LOOPING = [  # eight different programs, each of which never returns
    f"```python\nimport time\ndef add_one(x):\n    while x < {n}:\n        time.sleep(0.05)\n```"
    for n in range(2, 10)
]
VERIFIERS = {
    "python": (PythonVerifier, {"tests": "assert add_one(1) == 2\n"}),
    "check": (CheckVerifier, {"check": "assert add_one(1) == 2\n"}),
}


@pytest.fixture
def jails(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every jail started: its mode, its runs and how many of them it keeps going at once."""
    started: list[dict[str, Any]] = []
    spawn = parent._spawn

    async def counting(config: Any, stdin: bytes, **kwargs: Any) -> Any:
        runs = len(json.loads(stdin)["sources"])
        started.append({"job": config["judge"]["mode"], "runs": runs,
                        "at_once": config["parallel"]})  # fmt: skip
        return await spawn(config, stdin, **kwargs)

    monkeypatch.setattr(parent, "_spawn", counting)
    return started


@pytest.mark.parametrize("kind", VERIFIERS)
def test_eight_looping_candidates_cost_one_timeout_and_are_not_run_again(
    kind: str, jails: list[dict[str, Any]]
) -> None:
    make, fence = VERIFIERS[kind]
    task = Task(id="c", question="Implement `add_one`.", kind="code", stub=STUB,
                entry_point="add_one", **fence)  # fmt: skip
    verifier = make(allow_exec=True, timeout_s=1.0)
    outcome, _ = ask("best-of-n", LOOPING, task=task, verifier=verifier, samples=8, timeout_s=1.0)
    assert outcome.status == "failed" and outcome.passed == 0
    # one jail, all eight going at once (one timeout, not eight), and no probe run afterwards
    assert jails == [{"job": "tests" if kind == "python" else "check", "runs": 8, "at_once": 8}]
