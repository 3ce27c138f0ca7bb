"""`vaultttc run`: answer, verify and score the questions in notes, and write the answers back."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from vaultttc.cli.batch import batch_options, run_batch, wants_batch
from vaultttc.cli.console import RunProgress, print_report
from vaultttc.cli.doctor import ExecCommand, code_may_run, unsandboxed_option
from vaultttc.config import load_config
from vaultttc.engine.runner import RunOptions
from vaultttc.errors import ConfigError, ProviderNotConfigured, Redactor
from vaultttc.providers.registry import choose_provider_name
from vaultttc.strategies import STRATEGY_NAMES
from vaultttc.vault.files import find_vault_root
from vaultttc.vault.session import RunContext, run_paths
from vaultttc.vault.stale import parse_age
from vaultttc.watch.reverify import retest_stale

__all__ = ["run"]


@click.command(cls=ExecCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--provider", help="local, anthropic, openai, openai-compatible or replay:PATH.")
@click.option("--model", help="Model id for the provider.")
@click.option("--strategy", type=click.Choice(STRATEGY_NAMES), help="Override every question's.")
@click.option("--samples", type=click.IntRange(min=1), help="Sample budget per question.")
@click.option("--base-url", help="Base URL (ending in /v1) for openai-compatible servers.")
@click.option(
    "--dry-run", is_flag=True,
    help="Call no provider, write nothing: print what would be asked and a quote.",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Re-ask answered questions with fresh samples.")
@click.option("--no-cache", is_flag=True, help="Read and write no completion cache.")
@click.option(
    "--max-cost", type=click.FloatRange(min=0), metavar="USD",
    help="Cap the whole run; what it cannot cover is deferred to a later run.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@click.option("--allow-exec", is_flag=True, help="Allow running code from notes and models, "
              "sandboxed; =unsandboxed also where the OS gives no isolation.")  # fmt: skip
@unsandboxed_option
@click.option(
    "--check-authored", is_flag=True,
    help="Also answer the Q&A authors wrote, and say whether vaultttc agrees (never edits it).",
)  # fmt: skip
@click.option(
    "--stale-after", metavar="AGE", callback=lambda _c, _p, v: _age(v),
    help="Also re-verify answers older than AGE (90m, 12h, 30d, 2w) or by another model.",
)  # fmt: skip
@batch_options
def run(paths: tuple[Path, ...], **opts: Any) -> None:
    """Answer, verify and score the questions in notes, and write the answers back."""
    overrides = {k: opts[k] for k in ("provider", "model", "strategy", "samples") if opts[k]}
    if opts["provider"]:  # it names the provider of every note: said once, before any note
        _require(opts["provider"], paths, base_url=opts["base_url"], model=opts["model"])
    if opts["allow_exec"]:
        overrides["execute"] = True
    quiet = opts["as_json"] or not sys.stderr.isatty()
    consent = code_may_run(allow_exec=opts["allow_exec"], unsandboxed=opts["unsandboxed"])
    with consent, RunProgress(enabled=not quiet) as progress:
        context = RunContext(
            options=RunOptions(
                cli=overrides,
                force=opts["force"],
                redact=Redactor(os.environ),
                check_authored=opts["check_authored"],
            ),
            env=dict(os.environ),
            dry_run=opts["dry_run"],
            base_url=opts["base_url"],
            no_cache=opts["no_cache"],
            max_cost_usd=opts["max_cost"],
            progress=progress.update if not quiet else None,
            stale_after=opts["stale_after"],
        )
        if wants_batch(opts):  # half price, later: see cli/batch.py
            run_batch(paths, context, opts)
        report = asyncio.run(run_paths(paths, context))
        if opts["stale_after"] is not None and opts["allow_exec"] and not opts["dry_run"]:
            retest_stale(paths, opts["stale_after"])  # living docs are re-tested likewise
    if opts["as_json"]:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print_report(report, dry_run=opts["dry_run"])
    for line in (line for note in report.notes for line in note.regressions):
        click.secho(line, err=True, fg="red", bold=True)  # loud: a model regression
    sys.exit(report.exit_code)


def _require(name: str, paths: tuple[Path, ...], *, base_url: str | None,
             model: str | None) -> None:  # fmt: skip
    """The `--provider` flag's provider is configured for each vault `paths` are in."""
    for root in {find_vault_root(p if p.is_dir() else p.parent) for p in paths}:
        try:
            choose_provider_name(cli=name, config=load_config(root), env=dict(os.environ),
                                 base_url=base_url, model=model)  # fmt: skip
        except ProviderNotConfigured as exc:
            raise click.BadParameter(str(exc), param_hint="--provider") from None


def _age(value: str | None) -> timedelta | None:
    try:
        return parse_age(value, where="") if value else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
