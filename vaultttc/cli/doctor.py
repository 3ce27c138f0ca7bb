"""`vaultttc doctor`, and `--allow-exec=unsandboxed`: how code is isolated here, and the
acknowledgment it takes to run code where it cannot be.

`doctor` prints what `sandbox.detect` found (probed once). `ExecCommand` lets a command's
`--allow-exec` flag also be spelled `--allow-exec=unsandboxed`, which sets the hidden
`--allow-unsandboxed` flag too; `code_may_run` is the block a command runs in: it enters
`detect.unsandboxed()` only for that spelling, and says on the first line of the run what
that means, or that code will not run for want of isolation.

Must not: decide consent to run code (that stays with `--allow-exec`, the note and the vault
config), or run anything itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click

from vaultttc.sandbox import detect

__all__ = ["ExecCommand", "code_may_run", "doctor", "unsandboxed_option"]

SPELLING = "--allow-exec=unsandboxed"
UNSANDBOXED_LINE = (
    "vaultttc: running code WITHOUT isolation (--allow-exec=unsandboxed): it can read your "
    "files and reach the network; only time, memory and process limits hold"
)

unsandboxed_option = click.option(
    "--allow-unsandboxed", "unsandboxed", is_flag=True, hidden=True,
    help="Set by --allow-exec=unsandboxed.",
)  # fmt: skip


class ExecCommand(click.Command):
    """A command whose `--allow-exec` may be spelled `--allow-exec=unsandboxed`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        spelled = [
            ["--allow-exec", "--allow-unsandboxed"] if a == SPELLING else [a] for a in args[:end]
        ]
        return super().parse_args(ctx, [a for group in spelled for a in group] + args[end:])


@contextlib.contextmanager
def code_may_run(*, allow_exec: bool, unsandboxed: bool) -> Iterator[None]:
    """Run the command's block, with code allowed to run unsandboxed only when acknowledged.

    The first line of the run says so when code will run without isolation, or, where
    there is none and no acknowledgment, that code will not run.
    """
    if allow_exec or unsandboxed:
        found = detect.isolation()
        if not found.namespaces and unsandboxed:
            click.echo(UNSANDBOXED_LINE, err=True)
        elif not found.namespaces:
            click.echo(f"vaultttc: code will not run: {detect.refusal()}", err=True)
    with detect.unsandboxed(unsandboxed):
        yield


@click.command()
def doctor(**_: Any) -> None:
    """How code from notes and models is isolated on this machine."""
    for line in detect.describe():
        click.echo(line)
