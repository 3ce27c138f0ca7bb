"""The `vaultttc` command: parse options, call one library function, print, pick the exit code.

Errors the user can cause arrive as `VaultTTCError` and leave here as one line on stderr with
exit code 2; this is the only place that turns exceptions into exit codes. The environment is
read here and passed down explicitly.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vaultttc.cli.batch import batch_command, batch_options, run_batch, wants_batch
from vaultttc.cli.calibration import calibration_command
from vaultttc.cli.console import RunProgress, print_report
from vaultttc.cli.dashboard import dashboard_command
from vaultttc.cli.doctor import ExecCommand, code_may_run, doctor, unsandboxed_option
from vaultttc.cli.newnote import create_note
from vaultttc.cli.spend import spend_command
from vaultttc.cli.status import status_command
from vaultttc.config import load_config
from vaultttc.engine.runner import RunOptions
from vaultttc.errors import ConfigError, Redactor, VaultTTCError
from vaultttc.providers.registry import describe_providers, render_providers
from vaultttc.strategies import STRATEGY_NAMES
from vaultttc.vault.files import find_vault_root
from vaultttc.vault.scan import scan_paths
from vaultttc.vault.session import RunContext, run_paths
from vaultttc.vault.stale import parse_age
from vaultttc.watch.command import watch_command
from vaultttc.watch.reverify import retest_stale

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vaultttc")
def cli() -> None:
    """Test-time compute for Markdown knowledge vaults."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def scan(paths: tuple[Path, ...], as_json: bool) -> None:
    """List every note's blocks and errors (read-only)."""
    result = scan_paths(paths)
    if as_json:
        # One line, so the C encoder does the work (indent= falls back to pure Python).
        click.echo(json.dumps({"notes": result.entries, "errors": result.errors},
                              ensure_ascii=False))  # fmt: skip
    else:
        _print_scan(result.entries)
    if result.errors:
        sys.exit(2)


def _age(value: str | None) -> timedelta | None:
    try:
        return parse_age(value, where="") if value else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


def _print_scan(entries: list[dict[str, object]]) -> None:
    table = Table("note", "lines", "block", "detail", box=None, pad_edge=False)
    for entry in entries:
        if entry["error"]:
            click.echo(f"error: {entry['error']}", err=True)
            continue
        blocks = entry["blocks"]
        assert isinstance(blocks, list)
        for block in blocks:
            detail = block.get("id") or block.get("language") or ""
            lines = f"{block['first_line']}-{block['last_line']}"
            table.add_row(str(entry["path"]), lines, block["kind"], str(detail))
    Console(highlight=False).print(table)


@cli.command(cls=ExecCommand)
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


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the diff; write nothing.")
def clean(paths: tuple[Path, ...], *, dry_run: bool) -> None:
    """Take notes back to what their author wrote: remove vaultttc's answers and rows and
    restore the frontmatter values it replaced."""
    from vaultttc.vault.clean import clean_paths

    results = clean_paths(paths, dry_run=dry_run)
    for done in results:
        if done.error:
            click.echo(f"error: {done.error}", err=True)
        elif done.diff:
            click.echo(done.diff, nl=False)
    changed = sum(r.changed for r in results)
    verb = "would clean" if dry_run else "cleaned"
    click.echo(f"{verb} {changed} of {len(results)} note(s)", err=True)
    sys.exit(2 if any(r.error for r in results) else 0)


@cli.command()
@click.argument("title")
@click.option("--template", default="note", show_default=True, help="Template name.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
def new(title: str, template: str, folder: Path) -> None:
    """Write a new note in the seed's shape from a template."""
    path = create_note(title, folder=folder, template=template)
    click.echo(str(path))


@cli.command(cls=ExecCommand, context_settings={"ignore_unknown_options": True})
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--allow-exec", is_flag=True, help="Allow running the notes' examples, "
              "sandboxed; =unsandboxed also where the OS gives no isolation.")  # fmt: skip
@unsandboxed_option
@click.option("--record", is_flag=True, help="Write the outcome back into each note.")
@click.option("--update", is_flag=True, help="Rewrite output fences whose examples failed "
              "only on their output, to what they now print.")  # fmt: skip
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def test(
    path: Path,
    *,
    allow_exec: bool,
    unsandboxed: bool,
    record: bool,
    update: bool,
    pytest_args: tuple[str, ...],
) -> None:
    """Run the notes' embedded examples as tests (living documentation) with pytest."""
    from vaultttc.living import pytest_plugin  # imports pytest: only for this command

    with code_may_run(allow_exec=allow_exec, unsandboxed=unsandboxed):
        code = pytest_plugin.main([path], allow_exec=allow_exec, record=record, update=update,
                                  extra_args=pytest_args, unsandboxed=unsandboxed)  # fmt: skip
    sys.exit(code)


@cli.command()
@click.option("--base-url", help="Base URL of an OpenAI-compatible server, to check it.")
@click.option("--vault", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Vault whose .vaultttc/config.toml to read.")  # fmt: skip
def providers(base_url: str | None, vault: Path) -> None:
    """Which providers are configured, and what to set for the others."""
    config = load_config(find_vault_root(vault))
    statuses = describe_providers(dict(os.environ), config, base_url=base_url)
    click.echo(render_providers(statuses))


cli.add_command(watch_command)
cli.add_command(batch_command)
cli.add_command(doctor)
cli.add_command(calibration_command)
cli.add_command(spend_command)
cli.add_command(status_command)
cli.add_command(dashboard_command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except VaultTTCError as exc:
        click.echo(f"vaultttc: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
