"""`vaultttc test`: the notes' embedded examples run as tests (living documentation) with
pytest, which is imported only for this command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vaultttc.cli.doctor import ExecCommand, code_may_run, unsandboxed_option

__all__ = ["test"]


@click.command(cls=ExecCommand, context_settings={"ignore_unknown_options": True})
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
    from vaultttc.living import pytest_plugin

    with code_may_run(allow_exec=allow_exec, unsandboxed=unsandboxed):
        code = pytest_plugin.main([path], allow_exec=allow_exec, record=record, update=update,
                                  extra_args=pytest_args, unsandboxed=unsandboxed)  # fmt: skip
    sys.exit(code)
