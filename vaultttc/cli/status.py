"""`vaultttc status PATH [--json]`: the vault at a glance. Read-only; asks no provider.

Notes by `verification_status`, answers by verdict, the stalest and least confident answers,
spend this month, the work left (pending questions, stale answers, requests in batches), the
regressions re-verification found, and the daemon's state (its lock's pid, the last
re-verification pass). The data is `vault.status`'s; this module only prints it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vaultttc.config import CONFIG_DIR, load_config
from vaultttc.vault.files import find_vault_root
from vaultttc.vault.session import Vault
from vaultttc.vault.status import collect, to_json
from vaultttc.watch.lock import pid_alive
from vaultttc.watch.reverify import last_pass

__all__ = ["daemon_state", "status_command"]


def daemon_state(root: Path) -> dict[str, Any]:
    """Whether a `vaultttc watch` holds the vault's lock, and its last re-verification day."""
    try:
        text = (root / CONFIG_DIR / "watch.lock").read_text(encoding="ascii").strip()
    except OSError:
        text = ""
    pid = int(text) if text.isdigit() else None
    last = last_pass(root)
    return {"running": pid is not None and pid_alive(pid), "pid": pid,
            "last_reverify": last.isoformat() if last else None}  # fmt: skip


@click.command("status")
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=Path("."))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--stale-after", metavar="AGE", help="Count answers older than AGE as stale "
              "(default: the vault's reverify_after).")  # fmt: skip
def status_command(path: Path, *, as_json: bool, stale_after: str | None) -> None:
    """The vault at a glance: verification status, stale and weak answers, spend, work left."""
    root = find_vault_root(path if path.is_dir() else path.parent)
    vault = Vault(root, load_config(root))
    data = to_json(collect(vault, datetime.now(UTC), stale_after=stale_after), top=5)
    data["daemon"] = daemon_state(root)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _print(data)


def _print(data: dict[str, Any]) -> None:
    console = Console(highlight=False, width=120)
    work, spend, daemon = data["work"], data["spend"], data["daemon"]
    counts = Table(title=f"vaultttc status · {data['vault']}", box=None)
    counts.add_column("notes by status")
    counts.add_column("", justify="right")
    counts.add_column("answers by verdict")
    counts.add_column("", justify="right")
    notes, answers = (
        list(data["notes_by_status"].items()),
        list(data["questions_by_verdict"].items()),
    )
    for i in range(max(len(notes), len(answers))):
        left = notes[i] if i < len(notes) else ("", "")
        right = answers[i] if i < len(answers) else ("", "")
        counts.add_row(str(left[0]), str(left[1]), str(right[0]), str(right[1]))
    console.print(counts)
    for title, key in (("stalest answers", "stalest"), ("lowest confidence", "lowest_confidence")):
        table = Table("note:line", "verdict", "confidence", "answered", "model", title=title)
        for a in data[key]:
            answered = a["answered"][:10] if a["answered"] else "unknown"
            confidence = f"{a['confidence']:.2f}" if a["confidence"] is not None else "-"
            table.add_row(f"{a['note']}:{a['line']}", a["verdict"], confidence, answered,
                          a["model"] or "-")  # fmt: skip
        console.print(table)
    stale = f"{work['stale']} stale (older than {work['stale_after']})" if work["stale_after"] \
        else "no reverify_after set"  # fmt: skip
    console.print(f"spend {spend['month']}: ${spend['month_usd']:.4f} · last 30 days "
                  f"${spend['last_30_days_usd']:.4f}")  # fmt: skip
    console.print(f"work: {work['pending']} pending · {stale} · {work['batched']} in batches")
    running = f"running (pid {daemon['pid']})" if daemon["running"] else "not running"
    last = daemon["last_reverify"] or "never"
    console.print(f"daemon: {running} · last re-verification {last}")
    for r in data["regressions"]:
        click.secho(f"REGRESSION {r['note']}:{r['line']} ({r['id']}) on {r['date']}: verified "
                    f"under {r['old_model'] or 'an unknown model'}, fails under {r['new_model']}",
                    fg="red", bold=True)  # fmt: skip
