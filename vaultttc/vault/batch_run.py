"""`vaultttc run --batch` and `vaultttc batch status|collect`: the IO shell around batches.

A batch run is a normal run whose lanes hold `BatchedProvider`s (see `providers.batched`):

1. plan the notes (those named, plus the notes of their uncollected batches) and refuse, before
   any request, what cannot go in one batch: multi-round strategies (adaptive-consistency,
   beam, mcts, auto's rating), judge verifiers and author checks graded by a judge (their
   second request depends on the first reply), and providers without a batch API;
2. poll the batches in `.vaultttc/batches.json` for those notes; download the results of the
   ended ones (`--wait` polls until every one has ended, with a progress line);
3. run the notes through the normal pipeline, which takes each collected result as the
   completion a synchronous call would have returned (same verification, confidence,
   compare-and-swap save and changelog; cost at the batch price) and records every request
   it could not answer;
4. submit the recorded requests, one batch per provider (split at the API's limits), record
   them, and forget the collected batches. A question that changed since submission asks
   something else: its old results are dropped and, unless only collecting, it is submitted
   again. With `--wait`, steps 2–4 repeat until nothing new is submitted.

Environment, clock and sleep arrive as arguments.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaultttc.engine.batchable import batch_problem
from vaultttc.engine.report import NoteReport, RunReport
from vaultttc.errors import ConfigError
from vaultttc.providers.base import Provider
from vaultttc.providers.batch_api import BatchAPI, Failed, FailedKind, Progress, counts_of
from vaultttc.providers.batched import (
    CURRENT_NOTE,
    BatchedProvider,
    Book,
    batch_api_for,
    batched,
)
from vaultttc.vault.batch_report import BatchRunReport, merge_reports
from vaultttc.vault.batches import BatchRecord, load_batches, update_batches
from vaultttc.vault.cache import cache_key
from vaultttc.vault.session import (
    Planned,
    RunContext,
    Vault,
    VaultSession,
    display_path,
    vaults_for,
)

__all__ = [
    "BatchOptions",
    "batch_status",
    "collect_batches",
    "run_batched",
]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """`fallback`: ask unanswered items synchronously; `wait`: poll until done; `submit`:
    False collects only; `on_poll` gets every poll's progress (the CLI's progress line)."""

    fallback: bool = False
    wait: bool = False
    submit: bool = True
    poll_every_s: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], datetime] = _utcnow
    on_poll: Callable[[Sequence[tuple[BatchRecord, Progress]]], None] | None = None


async def run_batched(
    paths: Iterable[Path], context: RunContext, options: BatchOptions
) -> BatchRunReport:
    reports: list[BatchRunReport] = []
    for vault in vaults_for(paths):
        reports.append(await _BatchVault(vault, context, options).run())
    return BatchRunReport.combine(reports)


async def collect_batches(
    paths: Iterable[Path], context: RunContext, options: BatchOptions
) -> BatchRunReport:
    """Collect the uncollected batches of the notes under `paths`, submitting nothing new.

    Each batch is collected with the command-line settings it was submitted with (so the
    same requests are planned); consent to run code comes from this command alone."""
    reports: list[BatchRunReport] = []
    collect = dataclasses.replace(options, submit=False)
    for vault in vaults_for(paths):
        groups: dict[str, list[BatchRecord]] = {}
        for record in _relevant(vault, load_batches(vault.root)):
            groups.setdefault(json.dumps(dict(record.cli), sort_keys=True), []).append(record)
        for records in groups.values():
            cli = {**records[0].cli, **_consent(context.options.cli)}
            asked = dataclasses.replace(
                context, options=dataclasses.replace(context.options, cli=cli)
            )
            only = frozenset(r.id for r in records)
            reports.append(await _BatchVault(vault, asked, collect, only=only).run())
    return BatchRunReport.combine(reports)


def _consent(cli: Mapping[str, Any]) -> dict[str, Any]:
    return {"execute": cli["execute"]} if "execute" in cli else {}


async def batch_status(
    paths: Iterable[Path], context: RunContext
) -> list[tuple[BatchRecord, Progress]]:
    """Poll the uncollected batches of the notes under `paths`; nothing is written."""
    found: list[tuple[BatchRecord, Progress]] = []
    looking = dataclasses.replace(context, dry_run=True)  # opens no cache, writes nothing
    for vault in vaults_for(paths):
        runner = _BatchVault(vault, looking, BatchOptions(submit=False))
        try:
            found.extend(await runner.poll(runner.relevant()))
        finally:
            await runner.session.aclose()
    return found


@dataclass
class _BatchVault:
    vault: Vault
    context: RunContext
    options: BatchOptions
    only: frozenset[str] | None = None  # these batches only (`batch collect`)
    book: Book = field(init=False)
    session: VaultSession = field(init=False)
    state: list[BatchRecord] = field(init=False)

    def __post_init__(self) -> None:
        self.book = Book(fallback=self.options.fallback, submit=self.options.submit)
        self.session = VaultSession.open(self.vault, self.context)
        plain = self.session.pool.factory

        def factory(name: str, model: str | None) -> Provider:
            provider = plain(name, model)
            api = batch_api_for(provider)
            return (
                provider if api is None else batched(provider, api, book=self.book, key=cache_key)
            )

        self.session.pool.factory = factory  # before any lane exists: every lane is batched
        self.state = load_batches(self.vault.root)

    def relevant(self) -> list[BatchRecord]:
        found = _relevant(self.vault, self.state)
        return [r for r in found if self.only is None or r.id in self.only]

    def _display(self, path: Path) -> str:
        return display_path(path, self.vault.root)

    async def run(self) -> BatchRunReport:
        try:
            return await self._rounds()
        finally:
            await self.session.aclose()

    async def _rounds(self) -> BatchRunReport:
        collected: list[tuple[BatchRecord, dict[str, int]]] = []
        waiting: list[tuple[BatchRecord, Progress]] = []
        submitted: list[BatchRecord] = []
        runs: list[RunReport] = []
        while True:
            records = self.relevant()
            paths = self._paths(records)
            planned = [self.session.plan(p) for p in paths]
            self._refuse(planned)
            if self.context.dry_run:  # a quote at the batch price; no poll, no request
                runs.append(RunReport(tuple(await self._execute(planned))))
                break
            polled = await self._wait(records) if self.options.wait else await self.poll(records)
            ended = [r for r, progress in polled if progress.ended]
            waiting = [(r, progress) for r, progress in polled if not progress.ended]
            collected += [(r, await self._collect(r, p.status)) for r, p in polled if p.ended]
            runs.append(RunReport(tuple(await self._execute(planned))))
            self._forget(ended)
            new = await self._submit() if self.options.submit else []
            submitted += new
            if not (self.options.wait and new):
                break
        return BatchRunReport(
            merge_reports(runs), tuple(submitted), tuple(collected), tuple(waiting)
        )

    def _paths(self, records: Sequence[BatchRecord]) -> list[Path]:
        base = list(self.vault.notes) if self.options.submit else []
        known = {self._display(p) for p in base}
        for record in records:
            for note in record.notes:
                path = self.vault.root / note
                if note not in known and path.is_file():
                    known.add(note)
                    base.append(path)
        return base

    def _refuse(self, planned: Sequence[Planned | NoteReport]) -> None:
        """Raise, before any request, for a question no single batch can answer."""
        for plan in planned:
            if isinstance(plan, NoteReport):
                continue
            for job in plan.jobs:
                where = f"{plan.display}:{job.question.span.first_line}"
                lane = self.session.pool.lane(job.settings.provider, job.settings.model)
                if not isinstance(lane.provider, BatchedProvider):
                    raise ConfigError(
                        f"{where}: provider {job.settings.provider} has no batch API; --batch "
                        "needs anthropic or openai (or run without --batch)"
                    )
                problem = batch_problem(job)
                if problem is not None:
                    raise ConfigError(f"{where}: {problem}")

    async def poll(self, records: Sequence[BatchRecord]) -> list[tuple[BatchRecord, Progress]]:
        polled = [(r, await self._api(r).poll(r.id)) for r in records]
        for record, progress in polled:
            if not progress.ended:
                self.book.pending.update(dict.fromkeys(record.custom_ids, record.id))
        if self.options.on_poll is not None and polled:
            self.options.on_poll(polled)
        return polled

    async def _wait(self, records: Sequence[BatchRecord]) -> list[tuple[BatchRecord, Progress]]:
        while True:
            self.book.pending.clear()
            polled = await self.poll(records)
            if all(progress.ended for _, progress in polled):
                return polled
            await self.options.sleep(self.options.poll_every_s)

    async def _collect(self, record: BatchRecord, status: str) -> dict[str, int]:
        """Download an ended batch's results into the book (an item missing from them did
        not run: the batch failed, was cancelled or expired first)."""
        results = await self._api(record).results(record.id)
        kind = _MISSING.get(status, "expired")
        missing = Failed(kind, f"not in the results of a batch that ended {status}")
        for custom_id in record.custom_ids:
            self.book.results[custom_id] = (record.id, results.get(custom_id, missing))
            self.book.pending.pop(custom_id, None)
        return _counts(self.book, record)

    async def _execute(self, planned: Sequence[Planned | NoteReport]) -> list[NoteReport]:
        for lane in list(self.session.pool.lanes.values()):
            prepare = getattr(lane.provider, "prepare", None)
            if callable(prepare) and not self.context.dry_run:
                await prepare()  # capabilities settle before any strategy builds a request
        gate = asyncio.Semaphore(4)

        async def one(plan: Planned | NoteReport) -> NoteReport:
            if isinstance(plan, NoteReport):
                return plan
            CURRENT_NOTE.set(plan.display)  # this task's own context: its requests say whose
            async with gate:
                return await self.session.execute(plan)

        return list(await asyncio.gather(*(one(p) for p in planned)))

    async def _submit(self) -> list[BatchRecord]:
        made: list[BatchRecord] = []
        for lane in list(self.session.pool.lanes.values()):
            provider = lane.provider
            if not isinstance(provider, BatchedProvider) or not provider.recorded:
                continue
            recorded = dict(provider.recorded)
            provider.recorded.clear()
            pairs = [(r.custom_id, r.request) for r in recorded.values()]
            for batch in await provider.api.submit(pairs):
                notes = sorted({recorded[c].note for c in batch.custom_ids} - {""})
                record = BatchRecord(
                    batch.id, provider.name, provider.model, len(batch.custom_ids),
                    batch.custom_ids, self.options.clock().isoformat(timespec="seconds"),
                    tuple(notes), cli=self._cli(),
                )  # fmt: skip
                made.append(record)
                # at once, and beside what other runs saved meanwhile: a crash must not lose it
                try:
                    self.state = update_batches(self.vault.root, functools.partial(_added, record))
                except (OSError, ConfigError) as exc:
                    raise ConfigError(
                        f"batch {batch.id} ({provider.name}, {len(batch.custom_ids)} requests) "
                        f"was submitted but could not be recorded: {exc}"
                    ) from exc
        return made

    def _cli(self) -> dict[str, str | int]:
        """The run's command-line settings, to collect with (never the consent to run code)."""
        cli = self.context.options.cli
        return {k: v for k, v in cli.items() if k != "execute" and isinstance(v, str | int)}

    def _forget(self, ended: Sequence[BatchRecord]) -> None:
        gone = {r.id for r in ended}
        if gone:
            self.state = update_batches(
                self.vault.root, lambda now: [r for r in now if r.id not in gone]
            )

    def _api(self, record: BatchRecord) -> BatchAPI:
        provider = self.session.pool.lane(record.provider, record.model).provider
        if not isinstance(provider, BatchedProvider):
            raise ConfigError(f"batch {record.id}: provider {record.provider} has no batch API")
        return provider.api


_MISSING: dict[str, FailedKind] = {"failed": "errored", "cancelled": "canceled"}


def _relevant(vault: Vault, state: Sequence[BatchRecord]) -> list[BatchRecord]:
    """The uncollected batches that hold requests of the notes named in `vault`."""
    named = {display_path(p, vault.root) for p in vault.notes}
    return [r for r in state if named & set(r.notes)]


def _counts(book: Book, record: BatchRecord) -> dict[str, int]:
    return counts_of({c: book.results[c][1] for c in record.custom_ids})


def _added(record: BatchRecord, records: list[BatchRecord]) -> list[BatchRecord]:
    return [*records, record]
