"""`vaultttc scan`: every note's blocks and errors, read-only (the index makes a warm scan a
stat per note).

Imports only what a scan needs: the parser is imported by `vault.scan` only when a note changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vaultttc.vault.scan import scan_paths

__all__ = ["scan"]


@click.command()
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


def _print_scan(entries: list[dict[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

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
