"""The `python` verifier: a candidate's code run against the task's tests in the sandbox.

The test fence, or the stub's `>>>` examples, become a job for the sandbox's judge
(`verifiers.harness.judge_job`), which runs them in a process of its own beside each
candidate's program: the candidates run as one batch through `sandbox.parent`, and each
verdict comes from the judge's report, never from what the candidate prints. When the batch
holds more than one distinct program, the same runs also make the task's probe calls
(`engine.probes`), so that agreement by behaviour needs no second batch (`Verdict.behaviour`).
Only with consent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from vaultttc.engine.code import extract_code
from vaultttc.engine.probes import probe_budget, probe_calls
from vaultttc.engine.tasks import Task, Verdict
from vaultttc.sandbox.parent import arun_python_batch, workers_for
from vaultttc.verifiers import harness
from vaultttc.verifiers.batching import Coalescer
from vaultttc.verifiers.strength import STRENGTH

__all__ = ["PythonVerifier"]


class PythonVerifier:
    """Run the candidate's code against the task's test fence (or the stub's examples).

    Needs consent: with `allow_exec=False` every verdict is `passed=None`, "execution not
    allowed". Concurrent `verify` calls for one task are coalesced into one sandbox batch;
    `verify_many` does the same explicitly. A task with neither tests nor examples only checks
    that the program runs (`passed=None` when it does, False when it crashes).
    """

    def __init__(
        self,
        *,
        allow_exec: bool,
        timeout_s: float = 10.0,
        memory_mb: int = 512,
        workers: int | None = None,
    ) -> None:
        self._allow = allow_exec
        self._timeout_s = timeout_s
        self._memory_mb = memory_mb
        self._workers = workers or os.cpu_count() or 1
        self._batches = Coalescer(self.verify_many)

    @property
    def name(self) -> str:
        return "python"

    async def verify(self, candidate: str, task: Task) -> Verdict:
        return await self._batches.submit(candidate, task)

    async def verify_many(self, candidates: Sequence[str], task: Task) -> list[Verdict]:
        """Verdicts for many candidates of one task, run as one sandbox batch."""
        if not self._allow:
            return [Verdict(None, 0.0, 0.0, "none", "execution not allowed") for _ in candidates]
        try:
            tests, evidence = harness.task_tests(task)
        except SyntaxError as exc:
            detail = f"the test fence does not parse: {exc}"
            return [Verdict(None, 0.0, 0.0, "none", detail) for _ in candidates]
        code = [extract_code(c, stub=task.stub, entry_point=task.entry_point) for c in candidates]
        # several programs may be compared by behaviour: their runs make the probe calls too
        calls = probe_calls(task) if len(set(code)) > 1 else ()
        budget = probe_budget(self._timeout_s, calls)
        runs = await arun_python_batch(
            code, timeout_s=self._timeout_s, memory_mb=self._memory_mb,
            workers=workers_for(len(code), self._workers),
            judge=harness.judge_job(task, tests, calls=calls, budget=budget) if tests else None,
        )  # fmt: skip
        if not tests:
            return [harness.runs_only(run) for run in runs]
        strength = STRENGTH[evidence]
        return [harness.read_run(run, evidence=evidence, strength=strength) for run in runs]
