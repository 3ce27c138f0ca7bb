"""The published early-stopping rules beside vaultttc's adaptive-consistency, on the same votes.

`bench/strategies.py` runs self-consistency (the majority of all samples) and
adaptive-consistency through `vaultttc run`; this module replays the two published rules on
the very votes those strategies count, in the pool's sample order:

* Adaptive-Consistency's Beta rule (Aggarwal et al., EMNLP 2023): after each sample, stop when
  P(p1 > p2) >= 0.95 for the top two answers under Beta(c1 + 1, c2 + 1);
* ESC (Li et al., ICLR 2024): draw windows of 5 samples, stop after a window whose 5 answers
  are all the same.

A vote is vaultttc's own: the normalised answer (`strategies.shared.common.candidate`), or for
code the behaviour on probe inputs (`strategies.shared.behaviour.vote_keys`). Samples that
vote for nothing (no answer, or a program that does not run or is degenerate) are drawn but
never counted as an answer, for every rule alike: ESC's reference figure on CodeT (87.1
samples) is only reached that way. `cached_behaviours` memoises program behaviour for the
whole bench, so the votes are computed once.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any
from unittest import mock

from vaultttc.engine.confidence import incomplete_beta
from vaultttc.engine.runner import task_for
from vaultttc.engine.tasks import Task
from vaultttc.notes.parse import parse_note
from vaultttc.providers.base import Completion
from vaultttc.strategies.shared import behaviour
from vaultttc.strategies.shared.common import Candidate, candidate, tally

Keys = list[str | None]


def beta_rule(keys: Keys, cap: int, *, threshold: float = 0.95) -> int:
    """Samples the Beta rule draws before it stops (at most `cap`)."""
    for n in range(1, cap + 1):
        counts = sorted((c for _, c in tally(keys[:n]).counts), reverse=True)
        if counts:
            second = counts[1] if len(counts) > 1 else 0
            if 1 - incomplete_beta(counts[0] + 1, second + 1, 0.5) >= threshold:
                return n
    return cap


def esc_rule(keys: Keys, cap: int, *, window: int = 5) -> int:
    """Samples ESC draws before it stops (at most `cap`)."""
    for end in range(window, cap + 1, window):
        seen = keys[end - window : end]
        if seen[0] is not None and all(k == seen[0] for k in seen):
            return end
    return cap


RULES: dict[str, Callable[[Keys, int], int]] = {
    "majority of all": lambda _keys, n: n,
    "Beta (Adaptive-Consistency)": beta_rule,
    "ESC (window 5)": esc_rule,
}


def stops(votes: Keys, *, cap: int) -> dict[str, tuple[int, str | None]]:
    """Per rule: how many samples it draws and the answer (vote key) it then gives."""
    out = {}
    for name, rule in RULES.items():
        n = rule(votes[:cap], min(cap, len(votes)))
        out[name] = (n, tally(votes[:n]).winner)
    return out


def note_task(block: str) -> Task:
    """The task `vaultttc run` builds for a bench question block."""
    note = parse_note(f"---\ntech_stack:\n  language: Python\n---\n\n{block}", "bench.md")
    return task_for(note.questions[0], "python")


def candidates(task: Task, samples: Sequence[str]) -> list[Candidate]:
    done = (Completion(text=s, model="pool", provider="pool", sample_index=i) for i, s in
            enumerate(samples))  # fmt: skip
    return [candidate(c, task) for c in done]


async def votes_of(task: Task, samples: Sequence[str], *, timeout_s: float) -> Keys:
    found = candidates(task, samples)
    return await behaviour.vote_keys(found, task, execute=task.kind == "code", timeout_s=timeout_s)


@contextlib.contextmanager
def cached_behaviours() -> Iterator[None]:
    """Memoise `behaviour.behaviours` per (program, probe calls) for the whole bench."""
    memo: dict[str, tuple[str, ...] | None] = {}
    original: Callable[..., Awaitable[list[tuple[str, ...] | None]]] = behaviour.behaviours

    def key(program: str, calls: Sequence[str]) -> str:
        return hashlib.sha256(f"{program}\0{list(calls)!r}".encode()).hexdigest()

    async def remembered(
        programs: Sequence[str], calls: Sequence[str], **kwargs: Any
    ) -> list[tuple[str, ...] | None]:
        missing = [p for p in dict.fromkeys(programs) if key(p, calls) not in memo]
        if missing:
            for program, found in zip(missing, await original(missing, calls, **kwargs),
                                      strict=True):  # fmt: skip
                memo[key(program, calls)] = found
        return [memo[key(p, calls)] for p in programs]

    with mock.patch.object(behaviour, "behaviours", remembered):
        yield
