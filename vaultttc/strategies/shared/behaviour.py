"""Behaviour of candidate programs: what each returns on probe inputs, for agreement voting.

CodeT-style dual agreement needs to know which candidates *behave* alike. `behaviours` runs
every program on the task's probe calls (`engine.probes`) in the sandbox (one batch) and
returns, per program, the tuple of `repr`s of the results, with exceptions and timeouts as
markers. A program whose every probe raised or returned None votes for nothing in
`vote_keys`, like an unparsable answer. Programs a check already probed (in the same run as
their check, `Verdict.behaviour`) are not run again: callers seed the memo with them.

Running code here needs the same consent as the python verifier: callers only call
`behaviours` after that verifier (or a check) has executed candidates for this task.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from vaultttc.engine.probes import probe_budget, probe_calls
from vaultttc.engine.tasks import Task
from vaultttc.sandbox.parent import arun_python_batch, workers_for
from vaultttc.strategies.shared.common import Candidate
from vaultttc.verifiers.harness import stub_imports

if TYPE_CHECKING:
    from vaultttc.sandbox.judge import Job

__all__ = ["Behaviours", "behaviours", "vote_keys"]


async def behaviours(
    programs: Sequence[str], calls: Sequence[str], *, task: Task, timeout_s: float,
    memory_mb: int = 512,
) -> list[tuple[str, ...] | None]:  # fmt: skip
    """Per program, the `repr` of each call's result (None when the program did not finish).

    The calls are made by the sandbox's judge, in a process of its own, on the entry point the
    program defines; each gets its share of `timeout_s`.
    """
    if not programs or not calls:
        return [() for _ in programs]
    job: Job = {
        "mode": "probe", "tests": [], "prelude": stub_imports(task.stub),
        "names": [task.entry_point] if task.entry_point else [], "calls": list(calls),
        "budget": probe_budget(timeout_s, calls),
    }  # fmt: skip
    runs = await arun_python_batch(
        programs, timeout_s=timeout_s, memory_mb=memory_mb,
        workers=workers_for(len(programs), os.cpu_count() or 1), judge=job,
    )  # fmt: skip
    found = [run.report.get("probes") if run.report else None for run in runs]
    return [tuple(map(str, probes)) if isinstance(probes, list) else None for probes in found]


Behaviours = dict[str, tuple[str, ...] | None]  # program → its behaviour, once probed


async def vote_keys(
    candidates: Sequence[Candidate],
    task: Task,
    *,
    execute: bool,
    timeout_s: float,
    skip: Collection[str] = (),
    memo: Behaviours | None = None,
) -> list[str | None]:
    """What each candidate votes for (None: unparsable, or a program that did not finish).

    Programs in `skip` (those that ran out of time when verified) vote for nothing without
    being run again; programs already in `memo` are not probed again, and new ones are added.
    """
    if task.kind != "code" or not execute:
        return [c.key for c in candidates]
    seen: Behaviours = {} if memo is None else memo
    runs = [c for c in candidates if not c.cut]  # a program cut off votes for nothing
    programs = [p for p in dict.fromkeys(c.check for c in runs) if p not in skip and p not in seen]
    found = await behaviours(programs, probe_calls(task), task=task, timeout_s=timeout_s)
    seen.update(zip(programs, found, strict=True))
    return [None if c.cut or c.check in skip else _key(seen[c.check]) for c in candidates]


def _key(signature: tuple[str, ...] | None) -> str | None:
    """A program's vote: its behaviour, or nothing when it did not finish or is degenerate
    (every probe raised or returned None: a stub left as `pass` says nothing about the task,
    and in CodeGen's HumanEval samples such programs outvote the right one on a fifth of the
    problems)."""
    if signature is None:
        return None
    if signature and all(r == "None" or r.startswith("!") for r in signature):
        return None
    return repr(signature)
