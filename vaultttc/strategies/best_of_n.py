"""`best-of-n`: N candidates, a verifier scores them, the best passing one wins.

Without a verifier it refuses (the seed's anti-pattern "No verifier in best-of-N"); with
`verify:: judge` it runs but says the evidence is a judge's. Selection:

1. every distinct candidate (program, or normalised answer) is verified once;
2. the pool is the candidates that passed; when none did, the undecided ones (the verifier
   could not tell: the answer is `unverified`), else those with the best partial score (the
   answer is `failed`);
3. within the pool, candidates are grouped by behaviour: for code, by what the programs return
   on probe inputs built from the visible tests (CodeT-style dual agreement: a program that
   passes the tests *and* agrees with many others is likelier right than a lone one); for
   questions, by normalised answer. The largest group wins; ties go to the group whose first
   member was sampled first; the group's first member is the answer.

An unverified pick's confidence comes from its group's agreement (`selection` evidence,
calibrated per model; 0 when no member votes for anything); a code pick checked by its stub's
examples alone is `examples` evidence, calibrated per model too. A checked pick also carries
a labelled example for the vault's calibration: for a code task with a test fence and
examples in its stub, what the selection picks on the task's twin, checked by the examples
alone (`twin_selection`); otherwise what it would have picked with nothing to check it (the
largest group of the candidates that run, `unchecked_signal`); each labelled by whether the
check accepted that pick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vaultttc.engine.calibration import prior_confidence
from vaultttc.engine.confidence import mode_posterior, verified_confidence, vote_confidence
from vaultttc.engine.problems import NO_VERIFIER
from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Signal, Status, Task, Verdict, Verifier
from vaultttc.errors import ConfigError
from vaultttc.strategies.shared.behaviour import Behaviours, vote_keys
from vaultttc.strategies.shared.common import (
    Candidate,
    candidate,
    finish,
    no_answer,
    tally,
    verify_unique,
)
from vaultttc.strategies.shared.evidence import examples_signal, label_of, twin_task
from vaultttc.strategies.shared.prompts import answer_request

__all__ = [
    "NO_VERIFIER",
    "BestOfN",
    "Selection",
    "executed",
    "probed",
    "select",
    "selection_outcome",
    "twin_selection",
    "unchecked_signal",
]


@dataclass(frozen=True, slots=True)
class Selection:
    """The winner of a verified pool and what backs it. `status` is the pool's: passing
    candidates make it `verified`, undecided ones `unverified`, otherwise `failed`."""

    chosen: Candidate | None
    verdict: Verdict | None
    status: Status
    group: int
    passed: int
    counts: tuple[int, ...] = ()
    note: str = ""
    considered: int = 0
    groups: tuple[int, ...] = ()  # `counts` without the members that voted for nothing


def _pool(
    candidates: Sequence[Candidate], verdicts: Mapping[str, Verdict]
) -> tuple[list[Candidate], Status]:
    passing = [c for c in candidates if verdicts[c.check].passed]
    if passing:
        return passing, "verified"
    undecided = [c for c in candidates if verdicts[c.check].passed is None]
    if undecided:
        return undecided, "unverified"
    best = max((verdicts[c.check].score for c in candidates), default=0.0)
    return [c for c in candidates if verdicts[c.check].score == best], "failed"


async def _groups(
    pool: Sequence[Candidate],
    verdicts: Mapping[str, Verdict],
    task: Task,
    *,
    executed: bool,
    timeout_s: float,
    memo: Behaviours | None,
) -> list[str | None]:
    """A group key per pool member: behaviour signature for executed code, else its key.

    A program that ran out of time when verified is not run again: it agrees with nothing."""
    if len({c.check for c in pool}) < 2:  # one program: nothing to tell apart
        return [c.key for c in pool]
    slow = {text for text, verdict in verdicts.items() if verdict.timed_out}
    return await vote_keys(pool, task, execute=executed, timeout_s=timeout_s, skip=slow, memo=memo)


async def select(
    candidates: Sequence[Candidate],
    verdicts: Mapping[str, Verdict],
    task: Task,
    *,
    executed: bool,
    timeout_s: float,
    memo: Behaviours | None = None,
) -> Selection:
    """Pick the best candidate: passing first, then the largest agreeing group (`memo` keeps
    the programs' behaviours for a later `unchecked_signal`)."""
    pool, status = _pool(candidates, verdicts)
    if not pool:
        return Selection(None, None, "failed", 0, 0)
    passed = len(pool) if status == "verified" else 0
    keys = await _groups(pool, verdicts, task, executed=executed, timeout_s=timeout_s, memo=memo)
    vote = tally(keys)
    winner = next((c for c, k in zip(pool, keys, strict=True) if k == vote.winner), pool[0])
    note = (
        ""
        if not vote.tied
        else (f"{len(vote.tied)} groups tied at {vote.votes}: the earliest-sampled group wins")
    )
    counts = tuple(vote.posterior_counts()) if vote.winner is not None else (1,)
    # the groups that agree on something: none when every member voted for nothing (each
    # program raised or returned None on every probe), which is no agreement at all
    groups = () if vote.winner is None else counts[:-1] if vote.unparsable else counts
    return Selection(
        winner,
        verdicts[winner.check],
        status,
        vote.votes or 1,
        passed,
        counts,
        note,
        considered=len(candidates),
        groups=groups,
    )


def _confidence(pick: Selection, signal: Signal | None) -> float:
    verdict = pick.verdict
    assert verdict is not None
    agreement = mode_posterior(pick.counts)
    if pick.status == "unverified":
        # nothing checked the pool: its agreement is the evidence (calibrated per model)
        return prior_confidence(signal) if signal is not None else vote_confidence(pick.counts)
    return verified_confidence(
        evidence=verdict.evidence,
        strength=verdict.strength,
        passed=pick.status == "verified",
        score=verdict.score,
        agreement=agreement,
    )


def selection_outcome(
    task: Task,
    sampler: Sampler,
    pick: Selection,
    *,
    strategy: str,
    notes: Sequence[str] = (),
    signal: Signal | None = None,
    cut: Sequence[Candidate] = (),
) -> Outcome:
    """The outcome of a verified selection (best-of-n, and the search strategies' end); `cut`
    are the candidates left out because their reply reached its token limit first.

    An unverified pick's evidence is its group's agreement (`selection`); a checked pick
    carries `signal`, the labelled evidence of what the candidates said without the check."""
    verdict = pick.verdict
    if pick.status == "unverified" and pick.chosen is not None:
        signal = Signal("selection", round(mode_posterior(pick.groups), 6), None, task.kind)
    elif pick.chosen is not None and signal is None:
        signal = examples_signal(verdict, task, agreement=mode_posterior(pick.counts))
    if pick.chosen is None or verdict is None:
        return no_answer(task, sampler, strategy=strategy, notes=notes, candidates=cut)
    said = list(notes)
    if verdict.evidence == "judge":
        said.append("evidence is a judge's grade, not a check")
    if pick.status == "unverified":
        said.append(f"the verifier could not decide: {verdict.detail}")
    judged = verdict.evidence == "judge"
    status: Status = "consensus" if judged and pick.status == "verified" else pick.status
    said += [
        pick.note,
        f"{pick.passed} of {pick.considered} candidates passed; "
        f"{pick.group} agree with the chosen one",
    ]
    evidence = "vote" if pick.status == "unverified" else verdict.evidence
    return finish(
        task,
        sampler,
        strategy=strategy,
        chosen=pick.chosen,
        status=status,
        confidence=_confidence(pick, signal),
        evidence=evidence,
        agreed=pick.group,
        passed=pick.passed,
        notes=said,
        signal=signal,
    )


def probed(verdicts: Mapping[str, Verdict]) -> Behaviours:
    """The behaviours a verifier found in the same run as its verdict (tests or a check on
    code): the programs need not run again to vote."""
    return {text: v.behaviour for text, v in verdicts.items() if v.probed}


def executed(verifier: Verifier, verdicts: Mapping[str, Verdict]) -> bool:
    """The python verifier or a check ran candidates (a verdict or a run): execution is consented
    (a check is only ever built with consent), so code candidates may be run on probe inputs."""
    ran = any(v.passed is not None or v.score > 0 for v in verdicts.values())
    return verifier.name in ("python", "check") and ran


@dataclass(frozen=True, slots=True)
class BestOfN:
    name: str = "best-of-n"

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        if verifier is None:
            raise ConfigError(NO_VERIFIER)
        request = answer_request(task, sampler.capabilities, max_tokens=settings.max_tokens)
        drawn = await sampler.sample(request, settings.samples)
        # a reply cut off at its token limit is no candidate: it would fail as if it were wrong
        read = [candidate(d, task) for d in drawn]
        candidates, cut = [c for c in read if not c.cut], [c for c in read if c.cut]
        verdicts = await verify_unique(verifier, candidates, task)
        ran = executed(verifier, verdicts)
        memo = probed(verdicts)  # each program is probed once, for both selections
        pick = await select(
            candidates, verdicts, task, executed=ran, timeout_s=settings.timeout_s, memo=memo
        )
        signal = None
        if pick.status != "unverified" and pick.chosen is not None:
            signal = await twin_selection(
                candidates,
                verdicts,
                task,
                verifier=verifier,
                executed=ran,
                timeout_s=settings.timeout_s,
            ) or await unchecked_signal(
                candidates, verdicts, task, executed=ran, timeout_s=settings.timeout_s, memo=memo
            )
        return selection_outcome(task, sampler, pick, strategy=self.name, signal=signal, cut=cut)


async def twin_selection(
    candidates: Sequence[Candidate],
    verdicts: Mapping[str, Verdict],
    task: Task,
    *,
    verifier: Verifier,
    executed: bool,
    timeout_s: float,
) -> Signal | None:
    """What best-of-n picks on the task's twin (the stub's examples only, `shared.evidence`),
    as `examples` evidence labelled by the verdict that pick got from the task's own tests."""
    twin = twin_task(task)
    if twin is None:
        return None
    checked = await verify_unique(verifier, candidates, twin)
    pick = await select(candidates, checked, twin, executed=executed, timeout_s=timeout_s,
                        memo=probed(checked))  # fmt: skip
    if pick.chosen is None or pick.status == "unverified":
        return None
    label = label_of(verdicts[pick.chosen.check])
    agreement = mode_posterior(pick.counts)
    return (
        examples_signal(pick.verdict, task, agreement=agreement, label=label)
        if label is not None
        else None
    )


async def unchecked_signal(
    candidates: Sequence[Candidate],
    verdicts: Mapping[str, Verdict],
    task: Task,
    *,
    executed: bool,
    timeout_s: float,
    memo: Behaviours | None = None,
) -> Signal | None:
    """What the candidates say without the check, labelled by the check (a labelled example).

    Without a verifier's decision best-of-n picks the largest behaviour group among the programs
    that run (the answers that parse); this is that pick, judged by the verdict it got. When
    none votes for anything, the pick is the first that did not run out of time, on no
    agreement at all (0), as `select` writes such a pool (whose programs all ran): the vault
    learns that case too."""
    keys = await _groups(
        candidates, verdicts, task, executed=executed, timeout_s=timeout_s, memo=memo
    )
    usable = [(c, k) for c, k in zip(candidates, keys, strict=True) if k is not None]
    vote = tally(k for _, k in usable)
    finished = (c for c in candidates if not verdicts[c.check].timed_out)
    winner = next((c for c, k in usable if k == vote.winner), None) or next(finished, None)
    if winner is None:
        return None
    label = label_of(verdicts[winner.check])
    raw = round(mode_posterior(vote.posterior_counts()), 6) if vote.winner is not None else 0.0
    return Signal("selection", raw, label, task.kind) if label is not None else None
