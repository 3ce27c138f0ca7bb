"""`vaultttc clean`: take notes back to what their author wrote."""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["clean"]


@click.command()
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
