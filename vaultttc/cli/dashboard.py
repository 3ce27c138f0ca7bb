"""`vaultttc dashboard PATH`: write the Obsidian Bases file and the report note with pictures.

Calls `vault.dashboard.write_dashboard` with the real clock and says which files changed.
Asks no provider; writes only `vaultttc.base`, `vaultttc/` and `.obsidian/types.json`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from vaultttc.config import load_config
from vaultttc.vault.files import find_vault_root
from vaultttc.vault.session import Vault

__all__ = ["dashboard_command"]


@click.command("dashboard")
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=Path("."))
def dashboard_command(path: Path) -> None:
    """Write vaultttc.base (Obsidian Bases) and vaultttc/Report.md with its pictures."""
    from vaultttc.vault.dashboard import write_dashboard  # matplotlib: this command only

    root = find_vault_root(path if path.is_dir() else path.parent)
    done = write_dashboard(Vault(root, load_config(root)), datetime.now(UTC))
    for rel in done.written:
        click.echo(f"wrote {rel}")
    if done.types:
        click.echo("registered confidence_score, last_reinforced, verification_status in "
                   ".obsidian/types.json")  # fmt: skip
    if not done.written and not done.types:
        click.echo("dashboard up to date")
