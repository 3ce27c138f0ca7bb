"""The `check` verifier: a question's `python check` fence judges each candidate, in the sandbox.

The candidates of one task that are verified together (concurrent `verify` calls, coalesced by
`verifiers.batching`, or one `verify_many`) run as one sandbox batch (`arun_python_batch`: a
jail per 8+ candidates, up to one per core, several candidates at once in each): each
candidate's check runs in the sandbox's judge (`verifiers.check_harness`), handed the
candidate's `answer` and `completion` as data; for a code task the candidate's program runs
beside it, in a process of its own, and the check calls what it defines. For a question,
`answer` is the final answer as vaultttc would write it (the empty string when the reply
states none) and `completion` the reply without its thinking; for a code task both are the
program.

Only with consent: `choose_verifier` refuses to build one without it (the question could not be
answered, before any sample is drawn), and `verify` refuses too. Must not run anything in this
process, nor decide what a pass proves beyond `STRENGTH["check"]`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from vaultttc.engine.extract import final_answer, without_thinking
from vaultttc.engine.tasks import Task, Verdict
from vaultttc.errors import ConfigError, ExecutionNotAllowed
from vaultttc.sandbox.parent import arun_python_batch, workers_for
from vaultttc.verifiers import check_harness
from vaultttc.verifiers.batching import Coalescer
from vaultttc.verifiers.strength import STRENGTH

__all__ = ["NO_CHECK", "NO_CONSENT", "CheckVerifier", "check_inputs"]

NO_CONSENT = (
    "this question's python check runs only with consent to execute code: use --allow-exec, "
    "`ttc: execute: true` in the note or `execute = true` in .vaultttc/config.toml"
)
NO_CHECK = "verify:: check needs a ```python check``` fence right after the question"


def check_inputs(candidate: str, task: Task) -> tuple[str, str]:
    """What the check sees of one candidate: (`answer`, `completion`)."""
    if task.kind == "code":
        return candidate, candidate
    text = without_thinking(candidate)
    answer = final_answer(text, question=task.question, expect=task.expect)
    return answer or "", text


class CheckVerifier:
    """Run the task's check on each candidate; a pass proves what the author's check tests."""

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
        return "check"

    async def verify(self, candidate: str, task: Task) -> Verdict:
        return await self._batches.submit(candidate, task)

    async def verify_many(self, candidates: Sequence[str], task: Task) -> list[Verdict]:
        """Verdicts for many candidates of one task, run as one sandbox batch."""
        if not self._allow:
            raise ExecutionNotAllowed(NO_CONSENT)
        source = task.check
        if source is None:
            raise ConfigError(NO_CHECK)
        if not candidates:
            return []
        # a code task's candidate is its program (as the strategies extract it): it runs, and
        # the check is handed its text too; a question's candidate only ever is data
        programs = list(candidates) if task.kind == "code" else ["" for _ in candidates]
        runs = await arun_python_batch(
            programs, timeout_s=self._timeout_s,
            memory_mb=self._memory_mb, workers=workers_for(len(candidates), self._workers),
            judge=check_harness.job(task, source, timeout_s=self._timeout_s),
            judge_data=[check_inputs(c, task) for c in candidates],
        )  # fmt: skip
        strength = STRENGTH["check"]
        return [
            check_harness.read_verdict(run, strength=strength, timeout_s=self._timeout_s)
            for run in runs
        ]
