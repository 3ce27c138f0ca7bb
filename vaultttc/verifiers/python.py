"""The `python` verifier: a candidate's code run against the task's tests in the sandbox.

The test fence, or the stub's `>>>` examples, become a job for the sandbox's judge
(`verifiers.harness.judge_job`), which runs them in a process of its own beside each
candidate's program: the candidates run as one batch through `sandbox.parent`, and each
verdict comes from the judge's report, never from what the candidate prints. Only with consent.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from vaultttc.engine.code import extract_code
from vaultttc.engine.tasks import Task, Verdict
from vaultttc.sandbox.parent import arun_python_batch, workers_for
from vaultttc.verifiers import harness
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
        self._queue: dict[str, tuple[Task, list[tuple[str, asyncio.Future[Verdict]]]]] = {}
        self._running: set[asyncio.Future[None]] = set()

    @property
    def name(self) -> str:
        return "python"

    async def verify(self, candidate: str, task: Task) -> Verdict:
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        key = f"{task.id}\0{id(task)}"
        if key not in self._queue:
            self._queue[key] = (task, [])
            asyncio.get_running_loop().call_soon(self._flush, key)
        self._queue[key][1].append((candidate, future))
        return await future

    def _flush(self, key: str) -> None:
        task, waiting = self._queue.pop(key)

        async def settle() -> None:
            try:
                verdicts = await self.verify_many([c for c, _ in waiting], task)
            except Exception as exc:
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(exc)
                return
            for (_, future), verdict in zip(waiting, verdicts, strict=True):
                if not future.done():
                    future.set_result(verdict)

        runner = asyncio.ensure_future(settle())
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)

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
        runs = await arun_python_batch(
            code, timeout_s=self._timeout_s, memory_mb=self._memory_mb,
            workers=workers_for(len(code), self._workers),
            judge=harness.judge_job(task, tests) if tests else None,
        )  # fmt: skip
        if not tests:
            return [harness.runs_only(run) for run in runs]
        strength = STRENGTH[evidence]
        return [harness.read_run(run, evidence=evidence, strength=strength) for run in runs]
