"""The runner: a parsed note in, answers out. No file IO, no environment, no clock.

`plan_jobs` decides which questions need asking (their stored hash differs from the one their
content and settings give, or `force`), `run_note` asks them concurrently through shared
provider lanes, and returns what each question got. Failures stay with their question: a
provider error, an exhausted budget or a crashing verifier becomes that question's error and
never stops the others. Saving is the caller's business (see `vaultttc.vault.session`).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vaultttc.config import VaultConfig, resolve_settings
from vaultttc.engine.author import compare_with_author
from vaultttc.engine.problems import NO_USABLE, problem_of, strategy_problem
from vaultttc.engine.sampling import Cache, CostMeter, Lane, Sampler
from vaultttc.engine.tasks import Settings, Task, Verifier
from vaultttc.errors import ConfigError, ExecutionNotAllowed, Redactor, VaultTTCError
from vaultttc.notes.compose import Answered, answer_hash
from vaultttc.notes.model import Note, Question
from vaultttc.providers.base import Provider
from vaultttc.strategies import get_strategy
from vaultttc.verifiers.choose import choose_verifier

__all__ = ["Job", "LanePool", "ProviderChoice", "RunOptions", "plan_jobs", "run_note"]

log = logging.getLogger(__name__)

ProviderFactory = Callable[[str, str | None], Provider]
ProviderChoice = Callable[[Note, Question, Settings], str]
# Re-verification's seam (vault.stale): why a stored, unchanged answer is asked again, or None.
Reask = Callable[[Note, Question, Settings], object | None]
VerifierChoice = Callable[..., Verifier | None]
KEY_SHAPES = Redactor({})  # without the environment, still removes anything shaped like a key


@dataclass(frozen=True, slots=True)
class RunOptions:
    """`cli`: settings from flags; `force`: re-ask answered questions; `verifiers`: the seam
    that picks a task's verifier (`choose_verifier`'s signature), e.g. to wrap it in a cache;
    `check_authored`: also ask questions the author answered, to compare with their answer;
    `reask`: re-verification (`--stale-after`), which re-asks stored answers it calls stale."""

    cli: Mapping[str, Any] = field(default_factory=dict)
    force: bool = False
    verifiers: VerifierChoice = choose_verifier
    redact: Callable[[str], str] = field(default=KEY_SHAPES)
    check_authored: bool = False
    reask: Reask | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """`stale`: why a stored answer is re-verified (what `RunOptions.reask` said); such a job
    draws fresh samples, never the cached ones that gave the stored answer."""

    question: Question
    task: Task
    settings: Settings
    hash: str
    stale: object | None = None


@dataclass
class LanePool:
    """One lane per (provider, model) for a whole run, so limits hold across notes."""

    factory: ProviderFactory
    cache: Cache | None = None
    limit: int | None = None
    fresh: bool = False
    budget: CostMeter = field(default_factory=CostMeter)  # the whole run's (`--max-cost`)
    redact: Callable[[str], str] | None = None
    lanes: dict[tuple[str, str | None], Lane] = field(default_factory=dict)

    def lane(self, name: str, model: str | None) -> Lane:
        key = (name, model)
        if key not in self.lanes:
            provider = self.factory(name, model)
            self.lanes[key] = Lane(
                provider, self.cache, self.limit, fresh=self.fresh, redact=self.redact
            )
        return self.lanes[key]

    async def aclose(self) -> None:
        for lane in self.lanes.values():
            await lane.provider.aclose()


def task_for(question: Question, language: str) -> Task:
    stub = question.stub.code if question.stub else None
    return Task(
        id=question.id,
        question=question.title
        if question.authored
        else question.text,  # never the author's answer
        kind=question.kind,
        language=language,
        expect=question.fields.get("expect"),
        stub=stub,
        tests=question.test.code if question.test else None,
        entry_point=_entry_point(stub) if stub else None,
        fields=dict(question.fields),
        check=question.check.code if question.check else None,
    )


def _entry_point(stub: str) -> str | None:
    try:
        tree = ast.parse(stub)
    except SyntaxError:
        return None
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return names[-1] if names else None


def plan_jobs(
    note: Note,
    *,
    config: VaultConfig,
    options: RunOptions,
    pool: LanePool,
    choose: ProviderChoice,
) -> list[Job]:
    """The questions of `note` that need asking, with their resolved settings and hash.

    An authored question (the author's own Q&A) is asked only when the author is to be
    checked. Raises `ConfigError` (naming the note and line) for settings no request could
    honour: an unknown strategy, a bad `verify::`, a strategy the provider lacks."""
    jobs: list[Job] = []
    key = note.frontmatter.key("ttc") if note.frontmatter else None
    ttc_at = f"{note.path}:{key.span.first_line}: ttc" if key else None
    for question in note.questions:
        if question.authored and (
            not question.title or not _checks_author(question, config, options)
        ):
            continue
        settings = resolve_settings(
            cli=options.cli, fields_=question.fields, ttc=note.ttc, config=config,
            source=f"{note.path}:{question.span.first_line}", ttc_source=ttc_at,
        )  # fmt: skip
        name = choose(note, question, settings)
        lane = pool.lane(name, settings.model)
        settings = replace(settings, provider=name, model=lane.provider.model)
        # The hash covers what the note and the vault say, never a flag of this run: a plain
        # run after `run --strategy X` asks nothing; re-asking is `--force`.
        said = resolve_settings(cli={}, fields_=question.fields, ttc=note.ttc, config=config)
        digest = answer_hash(question, said)
        changed = options.force or question.answer is None or question.answer.hash != digest
        stale = (
            None if changed or options.reask is None else options.reask(note, question, settings)
        )
        if changed or stale is not None:
            job = Job(question, task_for(question, note.language), settings, digest, stale)
            _preflight(job, lane, where=f"{note.path}:{question.span.first_line}")
            jobs.append(job)
    return jobs


def _checks_author(question: Question, config: VaultConfig, options: RunOptions) -> bool:
    field_says = question.fields.get("check", "").strip().lower() == "author"
    return options.check_authored or config.check_authored or field_says


def _preflight(job: Job, lane: Lane, *, where: str) -> None:
    """Configuration errors, found before any request is made."""
    try:
        strategy = get_strategy(job.settings.strategy)
        sampler = Sampler(lane, max_samples=job.settings.samples)
        verified = True  # consent is the question's business: refused, it is reported
        with contextlib.suppress(ExecutionNotAllowed):  # unanswered when asked
            verified = None is not choose_verifier(
                job.task, job.settings, sampler=sampler, allow_exec=job.settings.execute
            )
        problem = strategy_problem(strategy.name, job.settings, lane.provider, verified=verified)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if problem is not None:
        raise ConfigError(f"{where}: {problem}")


async def run_note(
    jobs: list[Job],
    *,
    pool: LanePool,
    on_done: Callable[[Job, Answered], Awaitable[None] | None] | None = None,
    verifiers: VerifierChoice = choose_verifier,
    redact: Callable[[str], str] = KEY_SHAPES,
) -> dict[str, Answered]:
    """Ask every job concurrently; one note's jobs share its cost cap."""
    caps = [j.settings.max_cost_usd for j in jobs if j.settings.max_cost_usd is not None]
    meter = CostMeter(cap_usd=min(caps) if caps else None, parent=pool.budget)

    async def one(job: Job) -> tuple[str, Answered]:
        answered = await answer(job, pool=pool, meter=meter, verifiers=verifiers)
        if answered.error is not None:  # provider errors can echo a key back: never write it
            answered = replace(answered, error=redact(answered.error))
        if on_done is not None:
            maybe = on_done(job, answered)
            if maybe is not None:
                await maybe
        return job.question.id, answered

    return dict(await asyncio.gather(*(one(job) for job in jobs)))


async def answer(
    job: Job, *, pool: LanePool, meter: CostMeter, verifiers: VerifierChoice = choose_verifier
) -> Answered:
    settings = job.settings
    lane = pool.lane(settings.provider, settings.model)
    fresh = job.stale is not None
    sampler = Sampler(lane, max_samples=settings.samples, meter=meter, fresh=fresh)
    judge = Sampler(lane, max_samples=settings.samples, meter=meter, fresh=fresh)
    base = Answered(job.question.hash, job.hash, None, language=job.task.language)
    try:
        verifier = verifiers(job.task, settings, sampler=judge, allow_exec=settings.execute)
        strategy = get_strategy(settings.strategy)
        outcome = await strategy.run(job.task, settings, sampler=sampler, verifier=verifier)
    except VaultTTCError as exc:
        return replace(base, hash="", error=str(exc), problem=problem_of(exc))
    except Exception as exc:  # a crashing strategy or verifier fails its question only
        log.error("question %s crashed: %s", job.question.id, type(exc).__name__)
        detail = f"internal error ({type(exc).__name__}: {exc})"
        return replace(base, hash="", error=detail, problem="internal")
    if sampler.deferred or judge.deferred:  # the run's budget: leave it for a run that has one
        spent = "; ".join(filter(None, (sampler.exhausted, judge.exhausted)))
        return replace(base, hash="", error=spent, problem="deferred")
    if not outcome.answer.strip() and outcome.code is None:  # nothing to judge: not a verdict
        cut = outcome.cut_off  # samples that reached their token limit before their answer
        limit = f"{cut} of {outcome.samples_used} reached the token limit before an answer"
        notes = [n for n in outcome.note.split("; ") if n not in ("", NO_USABLE)]
        why = ([limit] if cut else []) + notes
        detail = f"no usable answer in {outcome.samples_used} sample(s)"
        detail += f": {'; '.join(why)}" if why else ""
        return replace(base, hash="", error=detail, problem="cut" if cut else "provider")
    author = None
    if job.question.authored:
        author = await compare_with_author(outcome, job.question.body, job.task, judge=judge)
    # A judge's calls are spent on this answer too: count them in its tokens and cost.
    outcome = replace(
        outcome, usage=outcome.usage + judge.usage, cost_usd=outcome.cost_usd + judge.cost_usd
    )
    if author is not None:
        said = {True: "agrees", False: "disagrees", None: "unsure"}[author.agrees]
        return replace(base, outcome=outcome, author=said, author_by=author.by)
    return replace(base, outcome=outcome)
