"""The report's pictures, drawn by matplotlib (Agg, SVG) from plain numbers.

matplotlib is imported inside `_pyplot()` only, so no other command pays its import time.
Each function returns SVG bytes; the same numbers give the same bytes (no date in the
metadata, a fixed hash salt for element ids), so a report kept current by the daemon is only
rewritten when its data changes. Must not read the vault: `vault.dashboard` passes the data.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["accuracy_by_samples", "confidence_histogram", "spend_per_day"]

_BLUE, _GREY = "#4c72b0", "#8c8c8c"


def _pyplot() -> Any:
    import matplotlib  # lazy: only the dashboard pays for it

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.hashsalt": "vaultttc", "font.size": 9,
                                "axes.spines.top": False, "axes.spines.right": False})  # fmt: skip
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    fig.clf()
    _pyplot().close(fig)
    return out.getvalue()


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=_GREY, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def confidence_histogram(confidences: Sequence[float]) -> bytes:
    """How many answers have each confidence, in tenths."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    if confidences:
        ax.hist(confidences, bins=[i / 10 for i in range(11)], color=_BLUE, edgecolor="white")
        ax.set_xlim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("answers")
    else:
        _empty(ax, "no answers yet")
    ax.set_title(f"Confidence of the vault's {len(confidences)} answers")
    return _svg(fig)


def accuracy_by_samples(points: Mapping[str, Sequence[tuple[int, float, int]]]) -> bytes:
    """Per strategy, (samples, accuracy, questions) on the labelled questions."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    if points:
        for strategy, rows in sorted(points.items()):
            xs, ys = [r[0] for r in rows], [r[1] for r in rows]
            ax.plot(xs, ys, marker="o", label=f"{strategy} ({sum(r[2] for r in rows)})")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("samples per question")
        ax.set_ylabel("accuracy")
        ax.legend(frameon=False, fontsize=8)
    else:
        _empty(ax, "no labelled questions answered yet (add expect:: to a question)")
    ax.set_title("Accuracy vs samples, per strategy (labelled questions)")
    return _svg(fig)


def spend_per_day(days: Sequence[tuple[str, float]]) -> bytes:
    """USD per day, oldest first (ISO dates)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    if days:
        ax.bar([d[5:] for d, _ in days], [usd for _, usd in days], color=_BLUE)
        ax.set_ylabel("USD")
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    else:
        _empty(ax, "nothing spent in the last 30 days")
    ax.set_title("Spend per day, last 30 days")
    return _svg(fig)
