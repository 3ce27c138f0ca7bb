"""`vaultttc test --repair [--apply]`: best-of-N fixes for failing examples, judged by the
examples' own expectations, proposed in the note; and accepted proposals put in place.

For each failing example of a note (`proposals.repairable`), candidates are drawn one at a
time from the provider (sample 0, 1, … up to `samples`); each that keeps the example's
expectations runs in the note's namespace in the sandbox (`examples.run_examples` on
`proposals.with_candidate`), and the verdict is the parent's judgement of what the child's
supervisor reported — never what the candidate prints about itself. The first that passes is
written after the example (`proposals.plan_proposal`) through the compare-and-swap save; an
example that already carries a proposal for its current code draws nothing. Every draw is
reserved at its worst case against the run's budget (`--max-cost`, else the vault's
`max_cost_usd_per_run`) before it is sent, as `run`'s are, and what was spent goes to the
vault's spend ledger; a candidate read from the cache is free. `apply_note` puts proposals
in place (`proposals.plan_apply`), each only once it has passed again in the note as it is
now (`fix_passes`, the same judgement: an earlier example or the vault's setup note may have
changed since), so `--apply` runs code and needs consent. `repair_options` adds the pytest
options, so that the plugin stays the only module that imports pytest.

Must not: import pytest, write anything besides a proposal region (or, with `--apply`, the
example's code, the region's removal and a changelog row), or change an example's fence
without `--apply`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from vaultttc.config import CONFIG_DIR, VaultConfig
from vaultttc.engine.sampling import CostMeter, Lane, Sampler
from vaultttc.errors import BudgetExhausted, VaultTTCError
from vaultttc.living.examples import ExampleOptions, ExampleResult, ExamplesReport, run_examples
from vaultttc.living.proposals import (
    SYSTEM,
    Proposal,
    candidate_code,
    code_hash,
    find_example,
    keeps_expectations,
    plan_apply,
    plan_proposal,
    proposal_for,
    repair_prompt,
    repairable,
    with_candidate,
)
from vaultttc.notes.model import Example, Note
from vaultttc.notes.render import Templates
from vaultttc.providers.base import Completion, Provider, Request
from vaultttc.providers.registry import build_provider, choose_provider_name
from vaultttc.vault.cache import SqliteCache
from vaultttc.vault.files import Loaded, read_note, update_note
from vaultttc.vault.ledger import LEDGER_FILE, Spend
from vaultttc.vault.ledger import append as append_ledger
from vaultttc.vault.spend import run_budget

__all__ = [
    "NoteRun",
    "RepairSettings",
    "apply_note",
    "fix_passes",
    "provider_factory",
    "repair_all",
    "repair_note",
    "repair_options",
]


@dataclass(frozen=True, slots=True)
class RepairSettings:
    """How many candidates per example, their size, the day, the examples' limits, and the
    meter the run's spend is reserved on (shared by the notes of one vault)."""

    today: str
    samples: int = 4
    max_tokens: int = 2000
    options: ExampleOptions = field(default_factory=ExampleOptions)
    meter: CostMeter = field(default_factory=CostMeter)


def repair_options(group: Any) -> None:
    """The `--vault-repair` options, added to the plugin's option group."""
    group.addoption("--vault-repair", action="store_true", default=False,
                    help="propose a fix, verified by the example's own checks, for each "
                    "failing example")  # fmt: skip
    group.addoption(
        "--vault-apply",
        action="store_true",
        default=False,
        help="with --vault-repair: put the proposed fixes in place of the examples",
    )
    group.addoption("--vault-provider", default=None, metavar="NAME",
                    help="provider the fixes are drawn from")  # fmt: skip
    group.addoption("--vault-model", default=None, metavar="MODEL", help="model to draw from")
    group.addoption("--vault-samples", type=int, default=RepairSettings("").samples,
                    metavar="N", help="candidates drawn per failing example")  # fmt: skip
    group.addoption("--vault-max-cost", type=float, default=None, metavar="USD",
                    help="the most the fixes may cost, per vault (default: the vault's "
                    "max_cost_usd_per_run)")  # fmt: skip


def repair_note(
    path: Path,
    report: ExamplesReport,
    *,
    provider: Provider,
    settings: RepairSettings,
    setup: Note | None = None,
    templates: Templates | None = None,
    cache: SqliteCache | None = None,
    ledger: Path | None = None,
) -> list[str]:
    """Propose fixes for the failing examples of the note at `path`; one line per example.
    With a `cache`, a candidate drawn before is read from it (free) instead of drawn again;
    with a `ledger`, what the fresh draws cost is added to it."""
    failing = repairable(report)
    if not failing:
        return []
    note = read_note(path, display=report.path).note
    drawn: list[Completion] = []
    lane = Lane(provider, cache=cache)  # the cache, the worst-case reservation: as `run` draws
    with asyncio.Runner() as runner:

        def draw(request: Request) -> Completion:
            sampler = Sampler(lane, max_samples=1, meter=settings.meter)
            got = runner.run(sampler.sample(request, 1, start=request.sample_index))
            if not got:
                raise BudgetExhausted(f"the budget of ${settings.meter.cap_usd:.4f} is spent")
            if got[0].cached:
                return replace(got[0], cost_usd=0.0)
            drawn.append(got[0])
            return got[0]

        run = _Repair(path, note, draw, provider, settings, setup, templates or Templates())
        try:
            return [run.one(result) for result in failing]
        finally:
            runner.run(provider.aclose())
            if ledger is not None and drawn:
                append_ledger(ledger, [_spend(drawn, provider, settings.today)])


def _spend(drawn: Sequence[Completion], provider: Provider, today: str) -> Spend:
    """The ledger's row for one note's fresh draws."""
    return Spend(
        day=today, provider=provider.name, model=provider.model,
        usd=round(sum(c.cost_usd for c in drawn), 8),
        input_tokens=sum(c.usage.input_tokens for c in drawn),
        output_tokens=sum(c.usage.output_tokens for c in drawn),
        thinking_tokens=sum(c.usage.thinking_tokens for c in drawn), samples=len(drawn),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Repair:
    """One note's repair: where it is, how candidates are drawn, judged and written."""

    path: Path
    note: Note
    draw: Callable[[Request], Completion]
    provider: Provider
    settings: RepairSettings
    setup: Note | None
    templates: Templates

    def one(self, result: ExampleResult) -> str:
        """Draw candidates for one failing example until one passes; what became of it."""
        where = f"{self.note.path}:{result.example.line}"
        example = find_example(self.note, result.example)
        if example is None:
            return f"not repaired {where}: the example changed while it ran"
        region = proposal_for(self.note, example)
        if region is not None and region.hash == code_hash(example):
            return f"a fix for {where} is already proposed"
        prompt, samples = repair_prompt(self.note, result), self.settings.samples
        tokens, cost = 0, 0.0
        for index in range(samples):
            request = Request(prompt, system=SYSTEM, max_tokens=self.settings.max_tokens,
                              sample_index=index)  # fmt: skip
            try:
                reply = self.draw(request)
            except VaultTTCError as exc:
                return f"not repaired {where}: after {index} candidate(s), {exc}"
            usage = reply.usage
            tokens += usage.input_tokens + usage.output_tokens + usage.thinking_tokens
            cost += reply.cost_usd
            code = candidate_code(reply.text, example.fence.lang)
            if code is not None and self.passes(example, code):
                proposal = Proposal(example, code, index + 1, samples, self.provider.name,
                                    self.provider.model, tokens, cost,
                                    self.settings.today)  # fmt: skip
                return self.save(proposal, where)
        return f"no passing fix for {where} among {samples} candidate(s); nothing written"

    def passes(self, example: Example, code: str) -> bool:
        return fix_passes(self.note, example, code, options=self.settings.options,
                          setup=self.setup)  # fmt: skip

    def save(self, proposal: Proposal, where: str) -> str:
        def plan(loaded: Loaded) -> str | None:
            return plan_proposal(loaded.note, proposal, templates=self.templates)

        if update_note(self.path, plan, display=self.note.path) is None:
            return f"not repaired {where}: the example was edited meanwhile (the edit is kept)"
        return f"proposed a fix for {where} (candidate {proposal.chosen} of {proposal.drawn})"


def fix_passes(
    note: Note, example: Example, code: str, *, options: ExampleOptions, setup: Note | None
) -> bool:
    """Whether `code` keeps the example's checks and passes them, run in the note's namespace
    in place of the example (in the sandbox, as the examples run)."""
    if not keeps_expectations(example, code):
        return False
    variant, index = with_candidate(note, example, code)
    report = run_examples(variant, allowed=True, options=replace(options, exit_ok=False),
                          setup=setup)  # fmt: skip
    return report.results[index].status == "passed"


def apply_note(
    path: Path, *, today: str, display: str, passes: Callable[[Note, Example, str], bool],
    templates: Templates | None = None,
) -> list[str]:  # fmt: skip
    """Put the note's proposals in place of their examples where each, run again in the note
    as it is now, still `passes`; a line per example applied or left."""
    templates = templates or Templates()
    applied: tuple[int, ...] = ()
    kept: tuple[int, ...] = ()

    def plan(loaded: Loaded) -> str | None:
        nonlocal applied, kept
        text, applied, kept = plan_apply(
            loaded.note, today=today, templates=templates,
            passes=functools.partial(passes, loaded.note),
        )  # fmt: skip
        return text if applied else None

    update_note(path, plan, display=display)
    lines = [f"not applied at {display}:{line}: the proposed fix no longer passes the note as it "
             "is now (the proposal is kept)" for line in kept]  # fmt: skip
    if applied:
        lines.append(
            f"applied the proposed fix at {display}:" + f", {display}:".join(map(str, applied))
        )
    return lines


@dataclass(frozen=True, slots=True)
class NoteRun:
    """One note's run as the plugin keeps it (for --update, --repair and --record): where the
    note is, its vault, its report, its limits and the vault's setup note."""

    path: Path
    root: Path
    report: ExamplesReport
    options: ExampleOptions
    setup: Note | None = None
    allowed: bool = True  # consent to run the note's code


def repair_all(
    jobs: Sequence[NoteRun],
    option: Callable[[str], Any],
    config_of: Callable[[Path], VaultConfig],
    *,
    env: Mapping[str, str],
) -> list[str]:
    """`--vault-repair` (with `--vault-apply`: put proposals in place) over a run's notes,
    with the options `repair_options` added (`option` reads them); the lines to print."""
    today, samples = date.today().isoformat(), int(option("vault_samples"))
    build = provider_factory(
        name=option("vault_provider"), model=option("vault_model"), config_of=config_of, env=env
    )
    meters: dict[Path, CostMeter] = {}  # one budget per vault, over all of its notes
    lines: list[str] = []
    for job in jobs:
        templates = Templates(job.root)
        try:
            if option("vault_apply"):
                lines += _apply(job, today=today, templates=templates)
            elif repairable(job.report):
                if job.root not in meters:
                    meters[job.root] = run_budget(config_of(job.root), option("vault_max_cost"))
                settings = RepairSettings(today, samples=samples, options=job.options,
                                          meter=meters[job.root])  # fmt: skip
                state = job.root / CONFIG_DIR
                state.mkdir(exist_ok=True)
                with SqliteCache(state / "cache.sqlite") as cache:
                    lines += repair_note(job.path, job.report, provider=build(job.root),
                                         settings=settings, setup=job.setup, templates=templates,
                                         cache=cache, ledger=state / LEDGER_FILE)  # fmt: skip
        except (VaultTTCError, OSError) as exc:
            lines.append(f"not repaired {job.report.path}: {exc}")
    return lines


def provider_factory(
    *, name: str | None, model: str | None, config_of: Callable[[Path], VaultConfig],
    env: Mapping[str, str],
) -> Callable[[Path], Provider]:  # fmt: skip
    """A fresh provider for a vault (one per note: each note's drawing has its own loop):
    the flag's, else the vault config's or the first configured one."""

    def build(root: Path) -> Provider:
        config = config_of(root)
        chosen = choose_provider_name(cli=name, config=config, env=env, model=model)
        return build_provider(chosen, model=model, config=config, env=env)

    return build


def _apply(job: NoteRun, *, today: str, templates: Templates) -> list[str]:
    """`--vault-apply` on one note: each fix is run again first, so only with consent."""
    display = job.report.path
    if not job.allowed:
        return [f"not applied at {display}: a fix is run again before it is put in place, "
                "which needs consent to run code (--allow-exec)"]  # fmt: skip

    def passes(note: Note, example: Example, code: str) -> bool:
        return fix_passes(note, example, code, options=job.options, setup=job.setup)

    return apply_note(job.path, today=today, display=display, passes=passes, templates=templates)
