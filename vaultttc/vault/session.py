"""`vaultttc run` as a library call: the IO shell around the runner.

Finds each path's vault, loads its config, cache, providers and calibration state, reads
notes, runs them concurrently, settles each note's outcomes with the vault's calibration
(`vault.calibration_store`: labelled ones are recorded, unchecked ones mapped), and saves each
note with compare-and-swap (re-planning on an author's concurrent edit). One bad note is
reported and skipped; it never stops the vault. Environment variables and the clock arrive as
arguments.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from vaultttc.config import CONFIG_DIR, VaultConfig, load_config
from vaultttc.engine import report as reports
from vaultttc.engine.report import NoteReport, QuestionReport, RunReport, question_report
from vaultttc.engine.runner import Job, LanePool, RunOptions, plan_jobs, run_note
from vaultttc.engine.tasks import Settings
from vaultttc.errors import NoteError, StaleNoteError, VaultTTCError
from vaultttc.notes.compose import Answered, compose, unsaved
from vaultttc.notes.edits import ChangelogStyle, rewrite
from vaultttc.notes.model import Note, Question
from vaultttc.notes.parse import parse_note
from vaultttc.notes.provenance import check_owned_keys
from vaultttc.notes.render import Templates
from vaultttc.providers.base import Provider
from vaultttc.providers.registry import build_provider, choose_provider_name
from vaultttc.vault.cache import SqliteCache
from vaultttc.vault.calibration_store import STORE_FILE, CalibrationStore
from vaultttc.vault.conventions import changelog_style
from vaultttc.vault.files import (
    Loaded,
    decode,
    digest,
    encode,
    find_vault_root,
    iter_notes,
    sweep_temp_files,
    update_note,
)
from vaultttc.vault.index import RunIndex, fingerprint, load_index, stamp, trusted
from vaultttc.vault.ledger import LEDGER_FILE, Spend
from vaultttc.vault.ledger import append as append_ledger
from vaultttc.vault.ledger import load as load_ledger
from vaultttc.vault.reverify import (
    REGRESSIONS_FILE,
    Reverified,
    regression_line,
    reverified,
    row_text,
)
from vaultttc.vault.reverify import record as record_regressions
from vaultttc.vault.scan import describe
from vaultttc.vault.spend import DailyBudget, planned_report, quoted, run_budget, spends
from vaultttc.vault.stale import Stale, StalePolicy, reasker, stalest_first

__all__ = [
    "Planned",
    "RunContext",
    "Vault",
    "VaultSession",
    "display_path",
    "run_paths",
    "stalest_order",
    "vaults_for",
]

Progress = Callable[[str, int], None]


@dataclass
class Vault:
    """A vault root with what a run needs from it, loaded once."""

    root: Path
    config: VaultConfig
    notes: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()  # once: each note is placed against it


def vaults_for(paths: Iterable[Path]) -> list[Vault]:
    """Group the notes named by `paths` (files or folders) by the vault they live in."""
    vaults: dict[Path, Vault] = {}
    known: dict[Path, set[Path]] = {}
    for path in paths:
        root = find_vault_root(path if path.is_dir() else path.parent)
        vault = vaults.get(root)
        if vault is None:
            vault = vaults[root] = Vault(root, load_config(root))
            known[root] = set()
        for note in iter_notes(root, path, exclude=vault.config.exclude):
            real = note.resolve()
            if real not in known[root]:  # `run d d/x.md` asks x.md once
                known[root].add(real)
                vault.notes.append(note)
    return list(vaults.values())


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every note of one run shares; built once per run by `run_paths`."""

    options: RunOptions
    env: Mapping[str, str]
    today: Callable[[], date] = date.today
    dry_run: bool = False
    base_url: str | None = None
    progress: Progress | None = None
    no_cache: bool = False  # `--no-cache`: read and write no completion cache
    max_cost_usd: float | None = None  # `--max-cost`: the whole run's cap
    daily: bool = False  # the daemon: honour the vault's `daily_budget_usd`
    stale_after: timedelta | None = None  # `--stale-after`: re-verify answers older than this
    now: Callable[[], datetime] = lambda: datetime.now(UTC)  # dates the answers' markers


async def run_paths(paths: Iterable[Path], context: RunContext) -> RunReport:
    started = time.perf_counter()
    reports: list[NoteReport] = []
    for vault in vaults_for(paths):
        reports.extend(await _run_vault(vault, context))
    return RunReport(tuple(reports), time.perf_counter() - started)


async def _run_vault(vault: Vault, context: RunContext) -> list[NoteReport]:
    """Plan every note first, so configuration errors are found before any request."""
    session = VaultSession.open(vault, context)
    # Requests are bounded by each provider's lane (its own concurrency limit); this gate only
    # keeps a huge vault from holding every note's text and tasks in memory at once.
    gate = asyncio.Semaphore(NOTE_GATE)
    planned = [session.plan(p) for p in vault.notes]
    if context.stale_after is not None:  # stalest first; under a budget, one note at a time
        planned = stalest_order(planned)
        if context.daily or session.pool.budget.cap_usd is not None:
            gate = asyncio.Semaphore(1)

    async def one(plan: Planned | NoteReport) -> NoteReport:
        if isinstance(plan, NoteReport):
            return plan
        async with gate:
            return await session.execute(plan)

    try:
        return list(await asyncio.gather(*(one(p) for p in planned)))
    finally:
        await session.aclose()


@dataclass(frozen=True, slots=True)
class Planned:
    """A note read and planned: what to ask, before anything is asked."""

    loaded: Loaded
    jobs: list[Job]
    display: str


@dataclass(frozen=True, slots=True)
class VaultSession:
    """One vault's providers, cache and templates, shared by every note run in it.

    The CLI opens one per run; the daemon keeps one open for as long as it watches.
    """

    vault: Vault
    pool: LanePool
    templates: Templates
    context: RunContext
    _styles: dict[str, ChangelogStyle | None] = field(default_factory=dict)
    _daily: dict[str, DailyBudget] = field(default_factory=dict)
    _ledger: dict[str, list[Spend]] = field(default_factory=dict)
    calibration: CalibrationStore | None = None  # the vault's own (`.vaultttc/calibration.jsonl`)
    _index: RunIndex = field(default_factory=lambda: RunIndex({}, idle=""))

    def changelog_style(self) -> ChangelogStyle | None:
        """The vault's changelog convention, read once, when a note first needs a new one."""
        if "style" not in self._styles:
            notes = iter_notes(self.vault.root, exclude=self.vault.config.exclude)
            self._styles["style"] = changelog_style(notes)
        return self._styles["style"]

    @classmethod
    def open(cls, vault: Vault, context: RunContext) -> VaultSession:
        cache_dir = vault.root / CONFIG_DIR
        if not context.dry_run:  # a dry run writes nothing, not even the cache
            cache_dir.mkdir(exist_ok=True)
            sweep_temp_files(vault.root, now=time.time())

        def factory(name: str, model: str | None) -> Provider:
            return build_provider(
                name, model=model, base_url=context.base_url, config=vault.config,
                env=context.env,
            )  # fmt: skip

        bare = context.dry_run or context.no_cache
        cache = None if bare else SqliteCache(cache_dir / "cache.sqlite")
        pool = LanePool(
            factory, cache, vault.config.concurrency, fresh=context.options.force,
            budget=run_budget(vault.config, context.max_cost_usd), redact=context.options.redact,
        )  # fmt: skip
        calibration = CalibrationStore(cache_dir / STORE_FILE)
        options = context.options
        idle = fingerprint(vault.config, options.check_authored, options.force)
        index = RunIndex(load_index(vault.root), idle=idle)
        return cls(vault, pool, Templates(vault.root), context, calibration=calibration,
                   _index=index)  # fmt: skip

    def save_index(self) -> None:
        """Keep what this session learned about the notes (a dry run writes nothing)."""
        if not self.context.dry_run:
            self._index.save(self.vault.root)

    async def aclose(self) -> None:
        self.save_index()
        await self.pool.aclose()

    async def run(self, path: Path) -> NoteReport:
        """Run one note: ask what changed, then save with compare-and-swap."""
        plan = self.plan(path)
        return plan if isinstance(plan, NoteReport) else await self.execute(plan)

    def plan(self, path: Path) -> Planned | NoteReport:
        """Read a note and plan its questions; a report when it cannot be read or planned.

        A note the index knows to have nothing to ask under this run's settings is not parsed
        (not even read, when its stat stamp is trusted)."""
        real = path.resolve()
        inside = real.is_relative_to(self.vault.root)
        display = real.relative_to(self.vault.root).as_posix() if inside else str(path)
        try:
            if not inside:
                raise NoteError(display, 0, f"points outside the vault (to {real}); not run")
            seen_ns = time.time_ns()
            st = path.stat()
            known = self._index.notes.get(display)
            idle = known if known is not None and known.get("idle") == self._index.idle else None
            if self.context.stale_after is not None:  # an idle note may hold a stale answer
                idle = None
            if idle is not None and trusted(idle, st):
                return NoteReport(display)
            data = path.read_bytes()
            content_hash = digest(data)
            if idle is not None and idle.get("hash") == content_hash:  # touched, not changed
                self._index.remember(display, {**idle, **stamp(st, seen_ns=seen_ns)})
                return NoteReport(display)
            loaded = Loaded(path, parse_note(decode(data, display), display), content_hash)
            check_owned_keys(loaded.note)
            jobs = plan_jobs(
                loaded.note, config=self.vault.config, options=self._options(),
                pool=self.pool, choose=self._choose,
            )  # fmt: skip
        except (OSError, VaultTTCError) as exc:
            return NoteReport(display, error=_one_line(exc, display))
        entry = {"path": display, "language": loaded.note.language,
                 "blocks": describe(loaded.note), "error": None, "hash": content_hash,
                 **stamp(st, seen_ns=seen_ns)}  # fmt: skip
        self._index.remember(display, entry if jobs else {**entry, "idle": self._index.idle})
        # nothing to ask: the note's text and parse are not kept while the rest of the vault runs
        if jobs and not st.st_mode & 0o222:  # root may still write it: the author's intent counts
            return NoteReport(display, skipped="read-only: left alone")
        return Planned(loaded, jobs, display) if jobs else NoteReport(display)

    def _options(self) -> RunOptions:
        options, after = self.context.options, self.context.stale_after
        if after is None or options.reask is not None:
            return options
        return replace(options, reask=reasker(StalePolicy(after, self.context.now())))

    async def execute(self, planned: Planned) -> NoteReport:
        """Ask a planned note's questions, then save with compare-and-swap. A dry run asks
        nothing: it reports what would be asked and its quote."""
        loaded, jobs, display = planned.loaded, planned.jobs, planned.display
        if not jobs:
            return NoteReport(display)
        ledger_path = self.vault.root / CONFIG_DIR / LEDGER_FILE
        if self.context.dry_run:
            if "ledger" not in self._ledger:  # read once per dry run, not once per note
                self._ledger["ledger"] = load_ledger(ledger_path)
            quotes = quoted(jobs, self.pool, self._ledger["ledger"])
            return NoteReport(display, questions=tuple(map(planned_report, jobs, quotes)))
        if self.context.daily and self.vault.config.daily_budget_usd is not None:
            budget = self._daily.setdefault("d", DailyBudget(self.vault.config.daily_budget_usd))
            self.pool.budget = budget.today(self.context.today(), lambda: load_ledger(ledger_path))
        progress = self.context.progress
        if progress is not None:
            progress(display, len(jobs))
        tick = (lambda job, done: progress(display, -1)) if progress is not None else None
        options = self.context.options
        answered = await run_note(
            jobs, pool=self.pool, on_done=tick, verifiers=options.verifiers, redact=options.redact
        )
        if self.calibration is not None:  # labelled outcomes teach it; unchecked ones use it
            answered = self.calibration.settle(jobs, answered, record=not self.context.dry_run)
        append_ledger(ledger_path, spends(jobs, answered, self.context.today()))
        found = reverified(jobs, answered, note=display, day=self.context.today())
        regressed = [f for f in found if f.found == "regression"]
        record_regressions(self.vault.root / CONFIG_DIR / REGRESSIONS_FILE, regressed)
        questions = tuple(question_report(j, answered[j.question.id]) for j in jobs)
        if found:
            how = {f.question: f.found for f in found}
            questions = tuple(replace(q, reverified=how.get(q.id)) for q in questions)
        report = self._save(loaded, answered, questions=questions, display=display,
                            found=found)  # fmt: skip
        lines = tuple(map(regression_line, regressed))
        return replace(report, regressions=lines) if lines else report

    def _choose(self, note: Note, question: Question, settings: Settings) -> str:
        stack = note.frontmatter.data.get("tech_stack") if note.frontmatter else None
        framework = stack.get("framework") if isinstance(stack, Mapping) else None
        return choose_provider_name(
            cli=self.context.options.cli.get("provider"),
            question_field=question.fields.get("provider"),
            note_ttc=note.ttc.get("provider"),
            tech_stack_framework=framework,
            config=self.vault.config,
            env=self.context.env,
            base_url=self.context.base_url,
            model=settings.model,
        )

    def _save(
        self,
        loaded: Loaded,
        answered: dict[str, Answered],
        *,
        questions: tuple[QuestionReport, ...],
        display: str,
        found: list[Reverified] | None = None,
    ) -> NoteReport:
        today, now = self.context.today(), self.context.now()
        row = row_text(found or [])
        planned_on: list[Note] = []  # the note as it was when the write-back was last planned

        def plan(fresh: Loaded) -> str | None:
            planned_on[:] = [fresh.note]
            style = self.changelog_style() if fresh.note.changelog is None else None
            writeback = compose(
                fresh.note, answered, templates=self.templates, today=today, style=style,
                now=now, reverified=row,
            )  # fmt: skip
            return rewrite(fresh.note, writeback, templates=self.templates)

        if self.context.dry_run:
            new = plan(loaded)
            diff = _diff(loaded.note.text, new, display) if new is not None else ""
            return NoteReport(display, questions=questions, changed=bool(diff), diff=diff)
        try:
            written = update_note(loaded.path, plan, display=display, first=loaded)
        except (OSError, VaultTTCError) as exc:  # stale: the author is still editing; retried
            why, stale = _one_line(exc, display), isinstance(exc, StaleNoteError)
            kept = reports.left_untouched(questions, why=why)
            return NoteReport(display, questions=kept, error=why, stale=stale)
        questions = reports.left_untouched(questions, ids=unsaved(planned_on[-1], answered))
        if written is None:
            return NoteReport(display, questions=questions)
        saved = digest(encode(written, bom=loaded.note.bom))
        return NoteReport(display, questions=questions, changed=True, written_hash=saved)


NOTE_GATE = 256


def stalest_order(planned: list[Planned | NoteReport]) -> list[Planned | NoteReport]:
    """Notes in re-verification order: changed ones first, then by their stalest answer."""

    def age(plan: Planned | NoteReport) -> float:
        if isinstance(plan, NoteReport):
            return 0.0
        jobs = plan.jobs
        return stalest_first(j.stale.age_s if isinstance(j.stale, Stale) else None for j in jobs)

    return sorted(planned, key=lambda p: -age(p))


def _diff(old: str, new: str, display: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"a/{display}", tofile=f"b/{display}",
    )  # fmt: skip
    return "".join(lines)


def display_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _one_line(exc: BaseException, display: str) -> str:
    text = str(exc).replace("\n", " ")
    return text if text.startswith(display) else f"{display}: {text}"
