"""The calibration benchmark's halves on a tiny date pool: the labelled half carries `expect::`
and feeds the store, the other half is scored; `--labelled odd` swaps them for every strategy,
and pooling the two splits scores every problem once."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from helpers import REPO


def _load(name: str) -> ModuleType:
    if str(REPO / "bench") not in sys.path:  # its sibling modules, as when it is run
        sys.path.insert(0, str(REPO / "bench"))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


calibration = _load("calibration")

RIGHT = "The answer is 05/01/2021."
WRONG = "The answer is 04/30/2021."


def _pool(tmp_path: Path, n: int) -> str:
    rows = [
        {
            "problem_id": f"date/{i}",
            "question": f"Yesterday was April 30, 2021 (case {i}). What is the date today?",
            "gold": "05/01/2021",
            "samples": [RIGHT, RIGHT, WRONG] if i % 3 else [WRONG, WRONG, RIGHT],
        }
        for i in range(n)
    ]
    (tmp_path / "pools").mkdir()
    (tmp_path / "pools" / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return "tiny.jsonl"


@pytest.mark.parametrize("split", ["even", "odd"])
def test_each_strategy_labels_the_same_half(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: str
) -> None:
    pool = _pool(tmp_path, 7)
    monkeypatch.setattr(calibration.bench, "POOLS", tmp_path / "pools")
    parity = int(split == "odd")
    runs = [("direct", 1), ("self-consistency", 0)]
    rows = asyncio.run(
        calibration.bench_pool("tiny", pool, runs, work=tmp_path / "w", limit=None, parity=parity)
    )
    labelled = [i for i in range(7) if i % 2 == parity]
    for row in rows:
        assert row.split == split
        assert row.outcomes == len(labelled)  # every labelled problem, for every strategy
        assert len(row.after) == 7 - len(labelled)
        keys = {o.key.split(":")[0] for o in row.labelled}
        assert len(keys) == len(labelled)
    root = tmp_path / "w" / f"tiny-self-consistency-{parity}"

    def expects(half: str) -> int:
        return sum(p.read_text().count("expect::") for p in (root / half).glob("*.md"))

    assert (expects("labelled"), expects("unlabelled")) == (len(labelled), 0)


def test_pooling_the_splits_scores_every_problem_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = _pool(tmp_path, 7)
    monkeypatch.setattr(calibration.bench, "POOLS", tmp_path / "pools")
    rows = [
        row
        for parity in (0, 1)
        for row in asyncio.run(
            calibration.bench_pool(
                "tiny", pool, [("self-consistency", 0)], work=tmp_path / "w", limit=None,
                parity=parity,
            )
        )
    ]  # fmt: skip
    [both] = calibration.pooled(rows)
    assert both.split == "both" and len(both.after) == len(both.raw) == 7
    # 2 of 3 samples are right on problems 1, 2, 4, 5; the vote is wrong on 0, 3, 6
    assert sorted(ok for _, ok in both.after) == [False] * 3 + [True] * 4
    assert both.accuracy == pytest.approx(100 * 4 / 7)
