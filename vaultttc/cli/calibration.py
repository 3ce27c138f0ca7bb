"""`vaultttc calibration PATH [--json]`: how well the vault's confidence is calibrated, per model.

Reads `.vaultttc/calibration.jsonl` (nothing else, never a provider) and prints, per provider and
model, per task and evidence kind: the labelled outcomes, their accuracy, whether the vault's own
map is in use yet, ECE and AUROC on held-out folds (each outcome scored by a map fitted on the
others) beside the shipped prior's on the same outcomes, and the held-out reliability table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from vaultttc.config import CONFIG_DIR
from vaultttc.engine.calibration import MIN_OUTCOMES, PRIOR_WEIGHT
from vaultttc.engine.reliability import FOLDS, Assessment, assess_all
from vaultttc.vault.calibration_store import STORE_FILE, CalibrationStore
from vaultttc.vault.files import find_vault_root

__all__ = ["calibration_command", "calibration_json", "render"]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _entry(a: Assessment) -> dict[str, Any]:
    provider, model, task, kind = a.key
    return {
        "provider": provider, "model": model, "task": task, "kind": kind,
        "outcomes": a.outcomes, "accuracy": round(a.accuracy, 4),
        "map": "vault" if a.in_use else "prior",
        "held_out": {"ece": round(a.ece, 4), "auroc": _round(a.auroc)},
        "prior": {"ece": round(a.prior_ece, 4), "auroc": _round(a.prior_auroc)},
        "reliability": [
            {"low": b.low, "high": b.high, "count": b.count,
             "confidence": round(b.confidence, 4), "accuracy": round(b.accuracy, 4)}
            for b in a.table
        ],
    }  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def calibration_json(store: Path, assessments: list[Assessment]) -> dict[str, Any]:
    return {
        "store": str(store),
        "min_outcomes": MIN_OUTCOMES,
        "prior_weight": PRIOR_WEIGHT,
        "folds": FOLDS,
        "maps": [_entry(a) for a in assessments],
    }


def render(store: Path, assessments: list[Assessment]) -> str:
    """The plain-text report."""
    if not assessments:
        return (
            f"no labelled outcomes yet in {store}: questions with expect::, tests or a check "
            f"teach the vault; until {MIN_OUTCOMES} per model and kind, confidence uses the "
            "shipped prior"
        )
    lines = [f"{store} · the vault's map is used from {MIN_OUTCOMES} outcomes per model and kind"]
    for a in assessments:
        provider, model, task, kind = a.key
        lines += [
            "",
            f"{provider} · {model} · {task} · {kind}",
            f"  {a.outcomes} labelled outcomes, accuracy {a.accuracy:.3f}, "
            f"map in use: {'vault' if a.in_use else 'prior'}",
            f"  held-out ({FOLDS} folds): ECE {a.ece:.3f}  AUROC {_number(a.auroc)}"
            f"   · prior on the same: ECE {a.prior_ece:.3f}  AUROC {_number(a.prior_auroc)}",
            "  confidence     answers  mean conf  accuracy",
        ]
        lines += [
            f"  {b.low:.1f}-{b.high:.1f}      {b.count:7d}  {b.confidence:9.3f}  {b.accuracy:8.3f}"
            for b in a.table
        ]
    return "\n".join(lines)


@click.command("calibration")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def calibration_command(path: Path, as_json: bool) -> None:
    """How well confidence is calibrated: per model, on the vault's labelled outcomes."""
    root = find_vault_root(path if path.is_dir() else path.parent)
    store_path = root / CONFIG_DIR / STORE_FILE
    assessments = assess_all(CalibrationStore(store_path).outcomes())
    if as_json:
        click.echo(json.dumps(calibration_json(store_path, assessments), indent=2))
    else:
        click.echo(render(store_path, assessments))
