"""The `vaultttc` command: a click group whose subcommands are imported only when run.

Each command lives in its own module (`cli/scan.py`, `cli/run.py`, …, and `watch/command.py`)
and parses options, calls one library function, prints and picks the exit code; `vaultttc scan`
never pays for the providers' SDKs, nor `vaultttc spend` for the parser. Errors the user can
cause arrive as `VaultTTCError` and leave here as one line on stderr with exit code 2; this is
the only place that turns exceptions into exit codes. The environment is read by the commands
and passed down explicitly.
"""

from __future__ import annotations

import importlib
import sys

import click

from vaultttc.errors import VaultTTCError

__all__ = ["cli", "main"]

COMMANDS = {
    "batch": "vaultttc.cli.batch:batch_command",
    "calibration": "vaultttc.cli.calibration:calibration_command",
    "clean": "vaultttc.cli.clean:clean",
    "dashboard": "vaultttc.cli.dashboard:dashboard_command",
    "doctor": "vaultttc.cli.doctor:doctor",
    "new": "vaultttc.cli.newnote:new",
    "providers": "vaultttc.cli.providers:providers",
    "run": "vaultttc.cli.run:run",
    "scan": "vaultttc.cli.scan:scan",
    "spend": "vaultttc.cli.spend:spend_command",
    "status": "vaultttc.cli.status:status_command",
    "test": "vaultttc.cli.living:test",
    "watch": "vaultttc.watch.command:watch_command",
}


class LazyGroup(click.Group):
    """click's documented lazy-loading group: a subcommand's module is imported when it runs
    (or when `--help` lists it)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, name = target.split(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vaultttc")
def cli() -> None:
    """Test-time compute for Markdown knowledge vaults."""


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
