"""`vaultttc spend PATH [--json]`: the vault's spend ledger, today and over 7 and 30 days.

Reads `.vaultttc/spend.jsonl` (vault.ledger) and prints one row per provider/model. Read-only.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vaultttc.config import CONFIG_DIR
from vaultttc.vault.files import find_vault_root
from vaultttc.vault.ledger import LEDGER_FILE, load, summary

__all__ = ["spend_command"]


@click.command("spend")
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=Path("."))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def spend_command(path: Path, *, as_json: bool) -> None:
    """What the vault spent: today, the last 7 and 30 days, by provider and model."""
    root = find_vault_root(path if path.is_dir() else path.parent)
    rows = summary(load(root / CONFIG_DIR / LEDGER_FILE), date.today())
    totals = {k: round(sum(float(r[k]) for r in rows), 6) for k in ("today", "7 days", "30 days")}
    if as_json:
        click.echo(json.dumps({"models": rows, "totals": totals}, ensure_ascii=False))
        return
    table = Table(title=f"vaultttc spend · {root.name}")
    for column in ("provider", "model", "today", "7 days", "30 days", "questions"):
        table.add_column(column, justify="left" if column in ("provider", "model") else "right")
    for r in rows:
        table.add_row(str(r["provider"]), str(r["model"]), *(f"${float(r[k]):.4f}" for k in
                      ("today", "7 days", "30 days")), str(r["questions"]))  # fmt: skip
    table.add_row("all", "", *(f"${totals[k]:.4f}" for k in ("today", "7 days", "30 days")), "")
    Console(highlight=False, width=120).print(table)
