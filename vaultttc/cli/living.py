"""`vaultttc test`: the notes' embedded examples run as tests (living documentation) with
pytest, which is imported only for this command; `-n` runs notes in parallel, `--repair`
proposes fixes for failing examples."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from vaultttc.cli.doctor import ExecCommand, code_may_run, unsandboxed_option
from vaultttc.config import load_config
from vaultttc.providers.registry import choose_provider_name
from vaultttc.vault.files import find_vault_root

__all__ = ["test"]


def _workers(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None or value == "auto" or (value.isdigit() and int(value) > 0):
        return value
    raise click.BadParameter(f"{value!r}: a number of workers (1 or more) or auto")


@click.command(cls=ExecCommand, context_settings={"ignore_unknown_options": True})
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--allow-exec", is_flag=True, help="Allow running the notes' examples, "
              "sandboxed; =unsandboxed also where the OS gives no isolation.")  # fmt: skip
@unsandboxed_option
@click.option("--record", is_flag=True, help="Write the outcome back into each note.")
@click.option("--update", is_flag=True, help="Rewrite output fences whose examples failed "
              "only on their output, to what they now print.")  # fmt: skip
@click.option("-n", "workers", metavar="K|auto", callback=_workers,
              help="Run notes in parallel in K worker processes (auto: one per core).")  # fmt: skip
@click.option("--repair", is_flag=True, help="For each failing example, propose a fix drawn "
              "from the provider and verified by the example's own checks.")  # fmt: skip
@click.option("--apply", is_flag=True, help="With --repair: put the proposed fixes in place.")
@click.option("--provider", help="Provider --repair draws from (default: the vault's).")
@click.option("--model", help="Model --repair draws from.")
@click.option("--samples", type=click.IntRange(min=1), default=4, show_default=True,
              help="Candidate fixes drawn per failing example.")  # fmt: skip
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0),
    metavar="USD",
    help="The most --repair may spend, per vault (default: max_cost_usd_per_run).",
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def test(path: Path, *, pytest_args: tuple[str, ...], **opts: Any) -> None:
    """Run the notes' embedded examples as tests (living documentation) with pytest."""
    from vaultttc.living import pytest_plugin

    extra = [*_repair_args(path, opts), *pytest_args]
    with code_may_run(allow_exec=opts["allow_exec"], unsandboxed=opts["unsandboxed"]):
        code = pytest_plugin.main(
            [path], allow_exec=opts["allow_exec"], record=opts["record"], update=opts["update"],
            extra_args=extra, unsandboxed=opts["unsandboxed"], workers=opts["workers"],
        )  # fmt: skip
    sys.exit(code)


def _repair_args(path: Path, opts: dict[str, Any]) -> list[str]:
    """The plugin's `--vault-repair` options; a usage error (exit 2) before anything runs."""
    if opts["apply"] and not opts["repair"]:
        raise click.UsageError("--apply goes with --repair (vaultttc test PATH --repair --apply)")
    if not opts["repair"]:
        return []
    if not opts["allow_exec"]:
        raise click.UsageError("--repair runs candidate fixes: add --allow-exec")
    if not opts["apply"]:  # a provider that is not there is an error now, not after the run
        vault = load_config(find_vault_root(path if path.is_dir() else path.parent))
        choose_provider_name(cli=opts["provider"], config=vault, env=dict(os.environ),
                             model=opts["model"])  # fmt: skip
    args = ["--vault-repair", f"--vault-samples={opts['samples']}"]
    args += ["--vault-apply"] * opts["apply"]
    args += [f"--vault-provider={opts['provider']}"] * bool(opts["provider"])
    args += [f"--vault-max-cost={opts['max_cost']}"] * (opts["max_cost"] is not None)
    return args + [f"--vault-model={opts['model']}"] * bool(opts["model"])
