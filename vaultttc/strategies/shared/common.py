"""What every strategy shares: candidates from completions, verifying them, voting, outcomes.

A `Candidate` is one sample read for what it claims: the extracted answer and its vote key for
a question, the whole program for a code task (thinking is never part of either). `tally` is
the majority vote with its one documented tie-break; `finish` turns a decision into an
`Outcome`, adding the sampler's accounting and saying when a budget ended the run early.
Pure apart from awaiting the verifier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from vaultttc.engine.code import extract_code, finished_before_cut
from vaultttc.engine.extract import (
    extract_answer,
    final_answer,
    normalize_answer,
    stated_before_cut,
    wants_short_answer,
)
from vaultttc.engine.problems import NO_USABLE
from vaultttc.engine.sampling import CUT_OFF, Sampler
from vaultttc.engine.tasks import Evidence, Outcome, Signal, Status, Task, Verdict, Verifier
from vaultttc.providers.base import Completion

__all__ = [
    "Candidate",
    "Tally",
    "candidate",
    "finish",
    "no_answer",
    "tally",
    "verify_unique",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One sample. `key` is what votes compare (None: nothing usable was found); `check` is the
    text given to the verifier (the program for code, the reply for a question); `confidence`
    the completion's trace confidence, where the provider gave one. `cut` is the finish reason
    of a reply that stopped before its answer was complete (`candidate`), else "": such a
    candidate answers nothing, votes for nothing and is never verified, so that a token limit
    is never written as a verdict."""

    index: int
    text: str
    answer: str | None
    key: str | None
    code: str | None = None
    confidence: float | None = None
    cut: str = ""

    @property
    def check(self) -> str:
        return self.code if self.code is not None else self.text


def _code_key(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())


def _finished(text: str, task: Task) -> bool:
    if task.kind == "code":
        return finished_before_cut(text, stub=task.stub, entry_point=task.entry_point)
    return wants_short_answer(task.question, expect=task.expect) and stated_before_cut(text)


def candidate(completion: Completion, task: Task, *, prefix: str = "") -> Candidate:
    """Read one completion (continuing `prefix`, for tree search) as a candidate answer.

    A reply that did not end itself (`sampling.CUT_OFF`) is `cut` unless what it answers was
    finished before the cut: a program that would read the same had the reply gone on
    (`code.finished_before_cut`), a short answer stated on a line the reply went on past
    (`extract.stated_before_cut`). Anything else may be missing its end."""
    text = prefix + completion.text
    if completion.finish_reason in CUT_OFF and not _finished(text, task):
        return Candidate(
            completion.sample_index, text, None, None, confidence=completion.trace_confidence,
            cut=completion.finish_reason,
        )  # fmt: skip
    if task.kind == "code":
        code = extract_code(text, stub=task.stub, entry_point=task.entry_point)
        return Candidate(
            completion.sample_index, text, None, _code_key(code), code, completion.trace_confidence
        )
    raw = extract_answer(text)
    key = normalize_answer(raw) if raw is not None else None
    answer = final_answer(text, question=task.question, expect=task.expect)  # as written
    return Candidate(
        completion.sample_index, text, answer, key or None, confidence=completion.trace_confidence
    )


@dataclass(frozen=True, slots=True)
class Tally:
    """A majority vote. `counts` is (key, votes) in order of first appearance."""

    winner: str | None
    counts: tuple[tuple[str, int], ...]
    unparsable: int
    tied: tuple[str, ...] = ()

    @property
    def votes(self) -> int:
        return dict(self.counts).get(self.winner, 0) if self.winner is not None else 0

    def posterior_counts(self) -> list[int]:
        """Winner first, then the other answers, then unparsable samples as one more category."""
        others = [n for k, n in self.counts if k != self.winner]
        tail = [self.unparsable] if self.unparsable else []
        return [self.votes, *sorted(others, reverse=True), *tail]

    def describe_tie(self, label: dict[str, str] | None = None) -> str:
        if not self.tied or self.winner is None:
            return ""
        names = ", ".join(repr((label or {}).get(k, k)) for k in self.tied)
        chosen = (label or {}).get(self.winner, self.winner)
        return (
            f"tie at {self.votes} votes between {names}: broken by earliest first "
            f"appearance → {chosen!r}"
        )


def tally(keys: Iterable[str | None]) -> Tally:
    """Majority vote over keys (None = unparsable, never a winner).

    Tie-break: among answers with the most votes, the one that appeared first in sample order
    wins (deterministic, and the first sample is the one a single-sample run would have given).
    """
    counts: dict[str, int] = {}
    unparsable = 0
    for key in keys:
        if key is None:
            unparsable += 1
        else:
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return Tally(None, (), unparsable)
    top = max(counts.values())
    leaders = tuple(k for k, n in counts.items() if n == top)
    return Tally(leaders[0], tuple(counts.items()), unparsable, leaders if len(leaders) > 1 else ())


async def verify_unique(
    verifier: Verifier, candidates: Sequence[Candidate], task: Task
) -> dict[str, Verdict]:
    """One verdict per distinct check text, verified concurrently (one sandbox batch for code)."""
    unique: dict[str, Candidate] = {}
    for c in candidates:
        unique.setdefault(c.check, c)
    texts = list(unique)
    verdicts = await asyncio.gather(*(verifier.verify(t, task) for t in texts))
    return dict(zip(texts, verdicts, strict=True))


def no_answer(
    task: Task,
    sampler: Sampler,
    *,
    strategy: str,
    chosen: Candidate | None = None,
    notes: Sequence[str] = (),
    candidates: Sequence[Candidate] = (),
) -> Outcome:
    """The outcome when no sample gave a usable answer (the runner reports it unanswered);
    `candidates` say how many of the samples reached their token limit first."""
    done = finish(
        task, sampler, strategy=strategy, chosen=chosen, status="failed", confidence=0.0,
        evidence="none", notes=notes,
    )  # fmt: skip
    return replace(done, cut_off=sum(c.cut == "length" for c in candidates))


def finish(  # noqa: PLR0913 - one keyword per Outcome field it fills
    task: Task,
    sampler: Sampler,
    *,
    strategy: str,
    chosen: Candidate | None,
    status: Status,
    confidence: float,
    evidence: Evidence,
    agreed: int = 0,
    passed: int = 0,
    notes: Sequence[str] = (),
    signal: Signal | None = None,
) -> Outcome:
    """The outcome of a decision, with the sampler's usage, cost and budget notes."""
    said = [n for n in notes if n]
    if sampler.exhausted:
        said.append(f"budget: {sampler.exhausted}; answered with the {sampler.drawn} samples drawn")
    if chosen is None:
        said.append(NO_USABLE)
    provider = sampler.lane.provider
    return Outcome(
        task_id=task.id,
        answer=(chosen.answer or "") if chosen is not None else "",
        status=status,
        confidence=round(max(0.0, min(1.0, confidence)), 4),
        strategy=strategy,
        evidence=evidence,
        samples_used=sampler.drawn,
        agreed=agreed,
        passed=passed,
        code=chosen.code if chosen is not None else None,
        usage=sampler.usage,
        cost_usd=sampler.cost_usd,
        cached=sampler.all_cached,
        provider=provider.name,
        model=provider.model,
        note="; ".join(said),
        signal=signal,
    )
