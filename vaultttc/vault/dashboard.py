"""`vaultttc dashboard`: the vault's state where the user reads, in Obsidian.

Writes `vaultttc.base` (an Obsidian Bases file: vault.bases), `vaultttc/Report.md` (tables,
and the pictures vault.charts draws: a confidence histogram, accuracy vs samples per strategy
on the labelled questions, spend per day) and registers vaultttc's properties in
`.obsidian/types.json` when the vault has `.obsidian/`. Every file is written atomically and
only when its bytes change. `report_markdown` is pure; `write_dashboard` is the IO.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from vaultttc.vault.artifacts import write_if_changed
from vaultttc.vault.bases import BASE_FILE, base_yaml
from vaultttc.vault.obsidian_types import register_types
from vaultttc.vault.session import Vault
from vaultttc.vault.status import REPORT_NOTE, AnswerRow, VaultStatus, collect, to_json

__all__ = ["REPORT", "Dashboard", "accuracy_points", "report_markdown", "write_dashboard"]

REPORT = REPORT_NOTE
PICTURES = {"confidence": "confidence.svg", "accuracy": "accuracy.svg", "spend": "spend.svg"}


@dataclass(frozen=True, slots=True)
class Dashboard:
    written: tuple[str, ...]  # vault-relative paths whose bytes changed
    types: bool  # `.obsidian/types.json` was updated


def accuracy_points(answers: Sequence[AnswerRow]) -> dict[str, list[tuple[int, float, int]]]:
    """Per strategy, per samples drawn: the share of labelled questions verified, and how
    many there were (a question with a reference is verified exactly when it was right)."""
    groups: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for a in answers:
        if a.labelled and a.strategy and a.verdict in ("verified", "failed"):
            groups[(a.strategy, a.samples)].append(a.verdict == "verified")
    out: dict[str, list[tuple[int, float, int]]] = defaultdict(list)
    for (strategy, samples), right in sorted(groups.items()):
        out[strategy].append((samples, sum(right) / len(right), len(right)))
    return dict(out)


def _days(status: VaultStatus) -> list[tuple[str, float]]:
    first = (status.now.date() - timedelta(days=29)).isoformat()
    days = [(d, round(usd, 6)) for d, usd in status.spend_by_day.items() if d >= first]
    return days if any(usd > 0 for _, usd in days) else []  # cached or free runs: nothing


def _link(note: str) -> str:
    return f"[[{note.removesuffix('.md')}]]"


def _answer_table(rows: Sequence[dict[str, object]]) -> list[str]:
    lines = [
        "| note | line | verdict | confidence | answered | model |",
        "|---|---|---|---|---|---|",
    ]
    for a in rows:
        confidence = f"{a['confidence']:.2f}" if isinstance(a["confidence"], float) else "-"
        answered = str(a["answered"])[:10] if a["answered"] else "unknown"
        lines.append(f"| {_link(str(a['note']))} | {a['line']} | {a['verdict']} | {confidence} "
                     f"| {answered} | {a['model'] or '-'} |")  # fmt: skip
    return lines if rows else ["No answers yet."]


def report_markdown(status: VaultStatus) -> str:
    data = to_json(status, top=10)
    work, spend = data["work"], data["spend"]
    stale = f"{work['stale']} older than {work['stale_after']}" if work["stale_after"] else "-"
    out = [
        "---", "title: vaultttc report", "---", "", "# vaultttc report", "",
        f"Written by `vaultttc dashboard` on {status.now:%Y-%m-%d}. The notes, by "
        f"status, confidence and last reinforcement: [[{BASE_FILE}]].", "",
        "| | |", "|---|---|", f"| notes | {data['notes']} |",
        f"| answers | {len(status.answers)} |", f"| pending questions | {work['pending']} |",
        f"| stale answers | {stale} |", f"| in batches | {work['batched']} |",
        f"| spend {spend['month']} | ${spend['month_usd']:.4f} |",
        f"| spend, last 30 days | ${spend['last_30_days_usd']:.4f} |", "",
        "## Notes by verification status", "", "| status | notes |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in data["notes_by_status"].items()), "",
        "## Confidence", "", f"![Confidence histogram]({PICTURES['confidence']})", "",
        "### Lowest confidence", "", *_answer_table(data["lowest_confidence"]), "",
        "## Stalest answers", "", *_answer_table(data["stalest"]), "",
        "## Accuracy vs samples, per strategy", "",
        f"![Accuracy vs samples]({PICTURES['accuracy']})", "", *_accuracy_table(status), "",
        "## Spend per day", "", f"![Spend per day]({PICTURES['spend']})", "",
    ]  # fmt: skip
    if data["regressions"]:
        out += ["## Regressions", "", "| note | line | verified under | fails under | found |",
                "|---|---|---|---|---|"]  # fmt: skip
        out += [f"| {_link(r['note'])} | {r['line']} | {r['old_model'] or '-'} | "
                f"{r['new_model']} | {r['date']} |" for r in data["regressions"]]  # fmt: skip
        out.append("")
    return "\n".join(out)


def _accuracy_table(status: VaultStatus) -> list[str]:
    points = accuracy_points(status.answers)
    if not points:
        return ["No labelled questions answered yet."]
    lines = ["| strategy | samples | questions | accuracy |", "|---|---|---|---|"]
    for strategy, rows in sorted(points.items()):
        lines += [f"| {strategy} | {n} | {count} | {acc:.0%} |" for n, acc, count in rows]
    return lines


def write_dashboard(vault: Vault, now: datetime) -> Dashboard:
    """Write the base, the report and its pictures; register the property types."""
    from vaultttc.vault import charts  # matplotlib: only when a dashboard is drawn

    status = collect(vault, now)
    folder = vault.root / Path(REPORT).parent
    answered = [a.confidence for a in status.answers if a.confidence is not None]
    files = {
        BASE_FILE: base_yaml().encode("utf-8"),
        REPORT: report_markdown(status).encode("utf-8"),
        f"{folder.name}/{PICTURES['confidence']}": charts.confidence_histogram(answered),
        f"{folder.name}/{PICTURES['accuracy']}": charts.accuracy_by_samples(
            accuracy_points(status.answers)
        ),
        f"{folder.name}/{PICTURES['spend']}": charts.spend_per_day(_days(status)),
    }
    written = tuple(rel for rel, data in files.items() if write_if_changed(vault.root / rel, data))
    return Dashboard(written, register_types(vault.root))
