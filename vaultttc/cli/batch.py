"""The batch commands: `run … --batch [--wait] [--batch-fallback]`, `batch status|collect PATH`.

Click options and printing only; the work is `vaultttc.vault.batch_run`. `batch_options` adds
the three flags to `vaultttc run`, which hands a `--batch` run to `run_batch`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from vaultttc.cli.console import print_report
from vaultttc.cli.doctor import code_may_run
from vaultttc.engine.runner import RunOptions
from vaultttc.errors import ProviderError, ProviderNotConfigured, Redactor, VaultTTCError
from vaultttc.providers.batch_api import Progress
from vaultttc.vault.batch_report import BatchRunReport
from vaultttc.vault.batch_run import BatchOptions, batch_status, collect_batches, run_batched
from vaultttc.vault.batches import BatchRecord
from vaultttc.vault.session import RunContext

__all__ = ["batch_command", "batch_options", "run_batch", "wants_batch"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_PATHS = click.Path(exists=True, path_type=Path)


def batch_options(command: F) -> F:
    """`--batch`, `--wait` and `--batch-fallback` for `vaultttc run`."""
    for option in (
        click.option("--batch-fallback", is_flag=True,
                     help="Ask expired, canceled or errored batch items synchronously."),
        click.option("--wait", is_flag=True, help="With --batch: poll until every batch ends."),
        click.option("--batch", is_flag=True,
                     help="Send the requests through the provider's batch API at half price "
                     "(anthropic, openai); run again to collect."),
    ):  # fmt: skip
        command = option(command)
    return command


def wants_batch(opts: dict[str, Any]) -> bool:
    """Whether `vaultttc run` was asked for a batch run (its batch-only flags need one)."""
    if not opts.get("batch") and (opts.get("wait") or opts.get("batch_fallback")):
        raise click.UsageError("--wait and --batch-fallback go with --batch")
    return bool(opts.get("batch"))


def run_batch(paths: Sequence[Path], context: RunContext, opts: dict[str, Any]) -> None:
    """`vaultttc run --batch`: collect what has ended, submit what is new, print, exit."""
    options = _options(opts, quiet=bool(opts["as_json"]))
    report = _refusable(lambda: asyncio.run(run_batched(paths, context, options)))
    _finish(report, as_json=bool(opts["as_json"]), dry_run=context.dry_run)


def _refusable(call: Callable[[], T]) -> T:
    """One line and an exit code for what stops a batch command: 2 for what cannot go in a
    batch (refused before any request) or bad settings, 3 for a provider that failed."""
    try:
        return call()
    except VaultTTCError as exc:
        click.echo(f"vaultttc: {exc}", err=True)
        failed = isinstance(exc, ProviderError) and not isinstance(exc, ProviderNotConfigured)
        sys.exit(3 if failed else 2)


def _options(opts: dict[str, Any], *, quiet: bool) -> BatchOptions:
    return BatchOptions(
        fallback=bool(opts.get("batch_fallback")),
        wait=bool(opts.get("wait")),
        on_poll=None if quiet else _progress_line,
    )


def _progress_line(polled: Sequence[tuple[BatchRecord, Progress]]) -> None:
    done = sum(p.done for _, p in polled)
    total = sum(p.total for _, p in polled) or sum(r.requests for r, _ in polled)
    ended = sum(p.ended for _, p in polled)
    click.echo(f"batches: {ended}/{len(polled)} ended, {done}/{total} requests done", err=True)


def _finish(report: BatchRunReport, *, as_json: bool, dry_run: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        sys.exit(report.exit_code)
    print_report(report.run, dry_run=dry_run)
    for record, counts in report.collected:
        said = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
        click.echo(f"collected {record.provider} batch {record.id}: {said}", err=True)
    for record, progress in report.waiting:
        click.echo(f"waiting: {record.provider} batch {record.id} {progress.status}, "
                   f"{progress.done}/{record.requests} done", err=True)  # fmt: skip
    for record in report.submitted:
        click.echo(f"submitted {record.provider} batch {record.id} ({record.requests} requests)")
    if report.submitted or report.waiting:
        click.echo(
            "run the same command again (or `vaultttc batch collect PATH`) to collect", err=True
        )
    sys.exit(report.exit_code)


def _context(*, allow_exec: bool) -> RunContext:
    cli = {"execute": True} if allow_exec else {}
    options = RunOptions(cli=cli, redact=Redactor(os.environ))
    return RunContext(options=options, env=dict(os.environ))


@click.group("batch")
def batch_command() -> None:
    """Batches submitted with `vaultttc run --batch`."""


@batch_command.command()
@click.argument("paths", nargs=-1, required=True, type=_PATHS)
@click.option("--json", "as_json", is_flag=True, help="Print the batches as JSON.")
def status(paths: tuple[Path, ...], *, as_json: bool) -> None:
    """Poll the uncollected batches of these notes; write nothing."""
    polled = _refusable(lambda: asyncio.run(batch_status(paths, _context(allow_exec=False))))
    rows = [
        {"id": r.id, "provider": r.provider, "model": r.model, "requests": r.requests,
         "status": p.status, "ended": p.ended, "done": p.done, "submitted_at": r.submitted_at,
         "notes": list(r.notes)}
        for r, p in polled
    ]  # fmt: skip
    if as_json:
        click.echo(json.dumps({"batches": rows}, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no batches waiting to be collected", err=True)
    for row in rows:
        state = "ended" if row["ended"] else str(row["status"])
        click.echo(f"{row['provider']} batch {row['id']}: {state}, {row['done']}/{row['requests']}"
                   f" done, submitted {row['submitted_at']}")  # fmt: skip


@batch_command.command()
@click.argument("paths", nargs=-1, required=True, type=_PATHS)
@click.option("--wait", is_flag=True, help="Poll until every batch has ended.")
@click.option("--batch-fallback", is_flag=True,
              help="Ask expired, canceled or errored items synchronously.")  # fmt: skip
@click.option("--allow-exec", is_flag=True, help="Allow running code to verify the answers.")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
def collect(paths: tuple[Path, ...], **opts: Any) -> None:
    """Write the answers of the batches that have ended, as a synchronous run would."""
    options = _options(opts, quiet=bool(opts["as_json"]))
    context = _context(allow_exec=bool(opts["allow_exec"]))
    with code_may_run(allow_exec=bool(opts["allow_exec"]), unsandboxed=False):
        report = _refusable(lambda: asyncio.run(collect_batches(paths, context, options)))
    _finish(report, as_json=bool(opts["as_json"]), dry_run=False)
