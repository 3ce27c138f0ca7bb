"""The `vaultttc` command: parse options, call one library function, print, pick the exit code.

Errors the user can cause arrive as `VaultTTCError` and leave here as one line on stderr with
exit code 2; this is the only place that turns exceptions into exit codes. The environment is
read here and passed down explicitly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vaultttc.errors import VaultTTCError
from vaultttc.newnote import create_note
from vaultttc.scan import scan_paths

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
        click.echo(json.dumps({"notes": result.entries, "errors": result.errors}, indent=2,
                              ensure_ascii=False))  # fmt: skip
    else:
        _print_scan(result.entries)
    if result.errors:
        sys.exit(2)


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


@cli.command()
@click.argument("title")
@click.option("--template", default="note", show_default=True, help="Template name.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
def new(title: str, template: str, folder: Path) -> None:
    """Write a new note in the seed's shape from a template."""
    path = create_note(title, folder=folder, template=template)
    click.echo(str(path))


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
