"""What strategies answer and what they return: tasks, settings, verdicts and outcomes.

These values are the contract between the note model (which builds `Task`s from question
blocks), the strategies and verifiers (which turn a task into an `Outcome`), and the runner
(which renders outcomes back into the note). Pure values and protocols; no IO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from vaultttc.providers.base import Usage

if TYPE_CHECKING:  # a type only: `config` reads `Settings` without the sampling machinery
    from vaultttc.engine.sampling import Sampler

__all__ = [
    "Evidence",
    "Outcome",
    "Settings",
    "Signal",
    "SignalKind",
    "Status",
    "Strategy",
    "Task",
    "Verdict",
    "Verifier",
]

Evidence = Literal["reference", "tests", "examples", "check", "judge", "vote", "none"]
Status = Literal["verified", "consensus", "failed", "unverified"]
# What calibration maps from: one unchecked sample (`single`, or `trace` with its token
# confidence), a majority vote (`vote`, or `weighted-vote` by trace confidence), and best-of-n's
# pick among candidates nothing could check (`selection`: agreement of their behaviour); code
# checked only by its stub's examples (`examples`: the confidence the shipped maps give it).
SignalKind = Literal["single", "trace", "vote", "weighted-vote", "selection", "examples"]


@dataclass(frozen=True, slots=True)
class Task:
    """One question block or code task, as a strategy sees it.

    `question` is the callout's text without its inline fields. For a code task, `stub` is the
    fence in the note's language (signature + docstring) and `tests` the optional test fence;
    `entry_point` is the stub's function name. `check` is the source of the question's
    `python check` fence (any task may have one): run with the candidate's `answer` and
    `completion` defined, it passes the candidate when it raises nothing.
    """

    id: str
    question: str
    kind: Literal["question", "code"] = "question"
    language: str = "python"
    expect: str | None = None
    stub: str | None = None
    tests: str | None = None
    entry_point: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    check: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved knobs for one task (CLI > question field > note ttc > tech_stack > config)."""

    strategy: str = "auto"
    provider: str = "local"
    model: str | None = None
    samples: int = 8
    thinking_budget: int | None = None
    effort: str | None = None
    max_tokens: int = 1024
    max_cost_usd: float | None = None
    verify: str | None = None
    execute: bool = False
    latency_critical: bool = False
    beam_width: int = 2
    depth: int = 3
    threshold: float = 0.95
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """A verifier's judgement of one candidate.

    `passed` is None when the verifier could not decide (e.g. execution not allowed).
    `score` in [0, 1] ranks candidates (fraction of tests passed, judge grade).
    `strength` in [0, 1] says how much a pass proves (hidden-test grade ~0.97, a few
    examples less, a judge much less); confidence is built from it.
    """

    passed: bool | None
    score: float
    strength: float
    evidence: Evidence
    detail: str = ""
    timed_out: bool = False  # the candidate ran out of time: running it again would too
    # what the program returned on the task's probe calls (`engine.probes`), when the verifier
    # made them in the same run (a check on code); `probed` tells None (it did not finish)
    # from not probed at all
    behaviour: tuple[str, ...] | None = None
    probed: bool = False


class Verifier(Protocol):
    @property
    def name(self) -> str: ...

    async def verify(self, candidate: str, task: Task) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class Signal:
    """The raw evidence behind an answer, before any calibration map.

    `raw` is what the kind's map takes (a vote's mode posterior, a trace confidence, 1.0 for a
    single sample). `label` is whether a verifier accepted the answer this evidence backs: set
    on questions with a reference, tests or a check (a labelled example for the vault's
    calibration), None when nothing checked it (its confidence comes from the map).
    """

    kind: SignalKind
    raw: float
    label: bool | None = None
    task: Literal["question", "code"] = "question"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A strategy's answer to one task, with everything the answer region shows.

    `answer` is the final answer only (never thinking); `code` the chosen code for code tasks.
    `agreed` counts samples that voted for the answer; `passed` candidates that passed the
    verifier. `note` carries budget exhaustion, tie-breaks and routing reasons. `signal` is
    the raw evidence calibration learns from (labelled) or maps (unlabelled). `cut_off` counts
    the samples whose reply reached its token limit before it finished an answer.
    """

    task_id: str
    answer: str
    status: Status
    confidence: float
    strategy: str
    evidence: Evidence
    samples_used: int
    agreed: int = 0
    passed: int = 0
    code: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    cached: bool = False
    provider: str = ""
    model: str = ""
    note: str = ""
    signal: Signal | None = None
    cut_off: int = 0


class Strategy(Protocol):
    """A test-time-compute strategy: draws through `sampler`, judges with `verifier`."""

    @property
    def name(self) -> str: ...

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome: ...
