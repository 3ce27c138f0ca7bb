"""Issue 13's benchmark: does the vault calibrate itself? Confidence before and after, per pool.

For each pool in ../shared/benchmarks/pools, one vault holds every problem: the even-numbered
half in `labelled/` carries the truth the way a vault would (`expect::` the gold date; for
CodeT, HumanEval's hidden `check()` as the test fence), the odd-numbered half in
`unlabelled/` carries none (a bare question; a bare stub). For each strategy, with a fresh
calibration store:

1. `vaultttc run unlabelled/` (the store is empty: confidence from the shipped priors) — before;
2. `vaultttc run labelled/` — its verified and failed answers are the store's labelled outcomes;
3. `vaultttc run unlabelled/ --force` — after: confidence from the vault's own map.

It scores the unlabelled half's written answers against gold (code: the hidden `check()`) and
prints accuracy, mean samples, and ECE and AUROC before and after, per strategy: direct,
self-consistency and adaptive-consistency on every pool, best-of-n on CodeT. Targets: ECE <=
0.05 for every strategy and AUROC >= 0.85 for votes, after.

Beside each figure it prints what the figure itself can tell at this size:

* `± sd`: the bootstrap standard deviation (1,000 resamples of the unlabelled half's answers)
  of the ECE and AUROC: the sampling error of the measurement, whatever the method;
* `floor`: the ECE a perfectly calibrated confidence would still show here, the mean ECE when
  each answer is right with exactly the probability its confidence says (the estimator's own
  bias at this size: with one confidence for every answer and 80 answers, about 0.04);
* `meets 0.05 in x% of draws`: how often that perfectly calibrated confidence would itself
  measure an ECE within the target, on these answers: where it is rarely, the target is below
  what the measurement can show at this size, whatever the method;
* `raw AUROC`: the AUROC of the raw evidence itself (vote posterior, single sample, agreement),
  captured before any map. A monotone map never ranks better than its input, so this is the
  most any calibration of that evidence can reach (answers a verifier failed, such as programs
  that do not run, keep the verifier's confidence instead, which can rank them lower still).

ECE uses 10 equal-width bins (Guo et al., 2017; the reliability tables `vaultttc calibration`
prints use the same bins). It is the binning the field reports, it was fixed before any map was
fitted, and where the maps are flat (a single sample, a vote that is nearly always unanimous)
every answer falls in one bin and any binning gives the same number.

    python bench/calibration.py              # everything (minutes on 2 cores)
    python bench/calibration.py --quick      # 60 problems per pool
    python bench/calibration.py --labelled odd   # the halves swapped: the other split
    python bench/calibration.py --labelled both --dump rows.json   # both, pooled; raw rows

The two splits are two measurements of one method: where a target is met on one split and
missed on the other, the difference is which problems fell in which half, not the method.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import stopping
import strategies as bench

from vaultttc.engine.calibration import Labelled, fit_shrunk
from vaultttc.engine.confidence import IDENTITY, expected_calibration_error
from vaultttc.engine.reliability import auroc, reliability
from vaultttc.engine.runner import RunOptions
from vaultttc.notes.compose import Answered
from vaultttc.vault.calibration_store import STORE_FILE, CalibrationStore
from vaultttc.vault.session import RunContext, run_paths

RUNS = {
    "date": [("direct", 1), ("self-consistency", 0), ("adaptive-consistency", 0)],
    "code": [
        ("direct", 1),
        ("self-consistency", 0),
        ("adaptive-consistency", 0),
        ("best-of-n", 16),
    ],
}
Pairs = list[tuple[float, bool]]


def labelled_block(problem: bench.Problem, row: dict[str, object], *, code: bool) -> str:
    """The problem as a vault that knows the answer writes it."""
    if not code:
        return problem.block + f"> expect:: {row['gold']}\n"
    gold = row["gold"]
    assert isinstance(gold, dict)
    hidden = f"{gold['test'].strip()}\n\ncheck({gold['entry_point']})"
    stub = str(row["question"])
    return bench.code_block(problem.id, gold["entry_point"], stub=stub, asserts=[hidden])


def unlabelled_block(problem: bench.Problem, row: dict[str, object], *, code: bool) -> str:
    if not code:
        return problem.block
    gold = row["gold"]
    assert isinstance(gold, dict)
    return bench.code_block(problem.id, gold["entry_point"], stub=str(row["question"]), asserts=[])


def build(
    root: Path, pool: str, limit: int | None, *, labelled: int = 0
) -> tuple[list[bench.Problem], Path]:
    """The vault, and the unlabelled half's problems (the half that is scored). `labelled` is
    the parity of the labelled half's problems: 0, the even-numbered; 1, the odd-numbered."""
    code = pool == bench.CODET
    rows = [json.loads(x) for x in (bench.POOLS / pool).read_text().splitlines() if x]
    problems = bench.load_problems(pool, limit)
    halves: dict[str, list[bench.Problem]] = {"labelled": [], "unlabelled": []}
    for i, (problem, row) in enumerate(zip(problems, rows, strict=False)):
        half = "labelled" if i % 2 == labelled else "unlabelled"
        make = labelled_block if half == "labelled" else unlabelled_block
        halves[half].append(replace(problem, block=make(problem, row, code=code)))
    for half, items in halves.items():
        bench.build_vault(root / half, items)
        shutil.rmtree(root / half / ".vaultttc")
    (root / ".vaultttc").mkdir()
    (root / ".vaultttc" / "config.toml").write_text("execute = true\ntimeout = 2\n")
    return halves["unlabelled"], root


async def run(root: Path, folder: str, pool: str, *, strategy: str, samples: int) -> float:
    """`vaultttc run FOLDER --provider replay:POOL --strategy S --samples N --allow-exec
    --force`; the mean samples its questions drew."""
    cli = {"provider": f"replay:{(bench.POOLS / pool).resolve()}", "strategy": strategy,
           "samples": samples, "execute": True}  # fmt: skip
    context = RunContext(
        options=RunOptions(cli=cli, force=True), env={}, today=lambda: date(2026, 1, 1)
    )
    report = await run_paths([root / folder], context)
    questions = [q for n in report.notes for q in n.questions]
    return sum(q.samples_used for q in questions) / max(1, len(questions))


@contextmanager
def raw_evidence(into: dict[str, float]) -> Iterator[None]:
    """Record each answer's raw evidence (`Signal.raw`) as the run settles it, before any map."""
    settle = CalibrationStore.settle

    def recording(
        store: CalibrationStore, jobs: Any, answered: Mapping[str, Answered], **kwargs: Any
    ) -> dict[str, Answered]:
        for qid, done in answered.items():
            if done.outcome is not None and done.outcome.signal is not None:
                into[qid] = done.outcome.signal.raw
        return settle(store, jobs, answered, **kwargs)

    with mock.patch.object(CalibrationStore, "settle", recording):
        yield


def spread(pairs: Pairs, metric: Callable[[Pairs], float | None], *, draws: int = 1000) -> float:
    """The bootstrap standard deviation of `metric` over resamples of `pairs` (seeded)."""
    rng = random.Random(0)
    values = [metric(rng.choices(pairs, k=len(pairs))) for _ in range(draws)]
    found = [v for v in values if v is not None]
    return statistics.stdev(found) if len(found) > 1 else 0.0


TARGET_ECE, TARGET_AUROC = 0.05, 0.85


def calibrated_eces(pairs: Pairs, *, draws: int = 1000) -> list[float]:
    """The ECEs these confidences measure when each answer is right with exactly the probability
    its confidence says (seeded draws): what a perfectly calibrated confidence measures here."""
    rng = random.Random(0)
    confidences = [p for p, _ in pairs]
    return [
        expected_calibration_error([(p, rng.random() < p) for p in confidences])
        for _ in range(draws)
    ]


def ece_floor(pairs: Pairs) -> tuple[float, float]:
    """The mean of `calibrated_eces` (the estimator's own bias at this size), and how often a
    perfectly calibrated confidence would meet the ECE target here."""
    found = calibrated_eces(pairs)
    return statistics.fmean(found), sum(1 for e in found if e <= TARGET_ECE) / len(found)


@dataclass(frozen=True, slots=True)
class Row:
    pool: str
    strategy: str
    accuracy: float
    samples: float
    before: Pairs
    after: Pairs
    outcomes: int
    labelled: tuple[Labelled, ...] = ()
    raw: Pairs = dataclasses.field(default_factory=list)
    split: str = "even"  # the labelled half: "even", "odd", or "both" (the two pooled)


async def score(
    root: Path, pool: str, problems: Sequence[bench.Problem], *, raw: Mapping[str, float]
) -> tuple[Pairs, Pairs, float]:
    """The unlabelled half's (written confidence, correct) and (raw evidence, correct) pairs, and
    its accuracy."""
    written = bench.read_written(root / "unlabelled")
    if pool == bench.CODET:
        correct = await bench.score_code(problems, written, {})
    else:
        correct = bench.score_dates(problems, written)
    pairs = [(written[p.id].confidence if p.id in written else 0.0, ok)
             for p, ok in zip(problems, correct, strict=True)]  # fmt: skip
    raws = [(raw.get(p.id, 0.0), ok) for p, ok in zip(problems, correct, strict=True)]
    return pairs, raws, sum(correct) / max(1, len(correct))


async def bench_pool(name: str, pool: str, runs: Sequence[tuple[str, int]], *, work: Path,
                     limit: int | None, parity: int = 0) -> list[Row]:  # fmt: skip
    first = json.loads((bench.POOLS / pool).read_text().split("\n", 1)[0])
    every = len(first["samples"])
    out = []
    for strategy, samples in runs:
        started = time.perf_counter()
        root = work / f"{name}-{strategy}-{parity}"
        problems, root = build(root, pool, limit, labelled=parity)
        n = samples or every
        raw: dict[str, float] = {}
        with raw_evidence(raw):
            drawn = await run(root, "unlabelled", pool, strategy=strategy, samples=n)
        before, raws, accuracy = await score(root, pool, problems, raw=raw)
        await run(root, "labelled", pool, strategy=strategy, samples=n)
        labelled = tuple(CalibrationStore(root / ".vaultttc" / STORE_FILE).outcomes())
        outcomes = len(labelled)
        await run(root, "unlabelled", pool, strategy=strategy, samples=n)
        after, _, _ = await score(root, pool, problems, raw=raw)
        row = Row(name, strategy, 100 * accuracy, drawn, before, after, outcomes, labelled, raws,
                  split=("even", "odd")[parity])  # fmt: skip
        out.append(row)
        print(f"  {name:5} {strategy:22} done in {time.perf_counter() - started:.0f}s "
              f"({outcomes} labelled outcomes)", flush=True)  # fmt: skip
    return out


def pooled(rows: Sequence[Row]) -> list[Row]:
    """Per pool and strategy, the two splits' unlabelled halves together: every problem scored
    once, by the map fitted on the half it was not in (two-fold cross-fitting), so the figures
    rest on twice the answers and their floor is lower."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.pool, r.strategy), []).append(r)
    out = []
    for (pool, strategy), both in groups.items():
        n = sum(len(r.after) for r in both)
        out.append(Row(
            pool, strategy,
            accuracy=sum(r.accuracy * len(r.after) for r in both) / n,
            samples=sum(r.samples * len(r.after) for r in both) / n,
            before=[p for r in both for p in r.before], after=[p for r in both for p in r.after],
            outcomes=sum(r.outcomes for r in both), raw=[p for r in both for p in r.raw],
            split="both",
        ))  # fmt: skip
    return out


def _auroc(pairs: Pairs) -> str:
    value = auroc(pairs)
    return "  -  " if value is None else f"{value:.3f}"


def fit_priors(rows: Sequence[Row]) -> None:
    """Prior maps from the labelled halves' outcomes, pooled per task and evidence kind."""
    groups: dict[tuple[str, str], Pairs] = {}
    first = rows[0].split if rows else "even"  # with both splits, each outcome once: the first's
    for r in rows:
        for o in r.labelled if r.split == first else ():
            groups.setdefault((o.task, o.kind), []).append((o.raw, o.label))
    print("\nprior maps fitted on the labelled halves:")
    for (task, kind), pairs in sorted(groups.items()):
        accuracy = sum(1.0 for _, y in pairs if y) / len(pairs)
        print(f"  {task} {kind}: {len(pairs)} outcomes, accuracy {accuracy:.3f}, "
              f"knots {fit_shrunk(pairs, IDENTITY, weight=0, block=20)}")  # fmt: skip


def detail(rows: Sequence[Row]) -> None:
    """The unlabelled half's reliability table after self-calibration, per strategy."""
    for r in rows:
        cells = " ".join(f"[{b.low:.1f}: n={b.count} conf {b.confidence:.2f} acc {b.accuracy:.2f}]"
                         for b in reliability(r.after))  # fmt: skip
        print(f"  {r.pool:6} {r.split:5} {r.strategy:22} {cells}")


def _ece(pairs: Pairs) -> str:
    sd = spread(pairs, expected_calibration_error)
    return f"{expected_calibration_error(pairs):.3f}±{sd:.3f}"


def _area(pairs: Pairs) -> str:
    value = auroc(pairs)
    return "  -        " if value is None else f"{value:.3f}±{spread(pairs, auroc):.3f}"


def table(rows: Sequence[Row]) -> None:
    print("\npool   split strategy               accuracy samples  n    ECE before   ECE after    "
          "floor   AUROC before AUROC after  raw AUROC    outcomes")  # fmt: skip
    for r in rows:
        print(
            f"{r.pool:6} {r.split:5} {r.strategy:22} {r.accuracy:6.1f}% {r.samples:7.2f} "
            f"{len(r.after):4d}  "
            f"{_ece(r.before)}  {_ece(r.after)}  {ece_floor(r.after)[0]:.3f}   "
            f"{_area(r.before)}  {_area(r.after)}  {_area(r.raw)}  {r.outcomes:8d}"
        )
    print(
        f"\ntargets after self-calibration: ECE <= {TARGET_ECE} for every strategy, AUROC >= "
        f"{TARGET_AUROC} for votes"
        "\n(± is the bootstrap sd; floor, what a perfectly calibrated confidence measures here;"
        "\nraw AUROC, the most a monotone map of the evidence can reach)"
    )
    for r in rows:
        ece = expected_calibration_error(r.after)
        area = auroc(r.after)
        vote = r.strategy != "direct"
        met = ece <= TARGET_ECE and (not vote or (area or 0) >= TARGET_AUROC)
        print(f"  {r.pool:6} {r.split:5} {r.strategy:22} ECE {ece:.3f} (a calibrated one meets "
              f"{TARGET_ECE} in {100 * ece_floor(r.after)[1]:3.0f}% of draws)"
              + (f"  AUROC {_auroc(r.after)} (raw {_auroc(r.raw)})" if vote else "")
              + f"  {'met' if met else 'NOT met'}")  # fmt: skip


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 problems per pool")
    parser.add_argument("--pools", default="vcot,fcot,codet")
    parser.add_argument("--detail", action="store_true", help="print reliability tables")
    parser.add_argument(
        "--labelled", choices=("even", "odd", "both"), default="even",
        help="which half carries the truth (odd: the halves swapped; both: each split, and the"
        " two pooled, every problem scored once by the map fitted on the other half)",
    )  # fmt: skip
    parser.add_argument(
        "--fit", action="store_true", help="print prior maps fitted on the labelled halves"
    )
    parser.add_argument("--dump", type=Path, help="write every row's pairs and outcomes as JSON")
    args = parser.parse_args(argv)
    limit = 60 if args.quick else None
    pools = {"vcot": bench.DATE_POOLS["vcot"], "fcot": bench.DATE_POOLS["fcot"],
             "codet": bench.CODET}  # fmt: skip
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vaultttc-calibration-") as tmp, ExitStack() as stack:
        stack.enter_context(stopping.cached_behaviours())
        for name in args.pools.split(","):
            pool = pools[name]
            print(f"{name}: {pool}", flush=True)
            runs = RUNS["code" if pool == bench.CODET else "date"]
            for split in ("even", "odd") if args.labelled == "both" else (args.labelled,):
                rows += await bench_pool(name, pool, runs, work=Path(tmp), limit=limit,
                                         parity=int(split == "odd"))  # fmt: skip
    if args.labelled == "both":
        rows += pooled(rows)
    table(rows)
    if args.detail:
        detail(rows)
    if args.fit:
        fit_priors(rows)
    if args.dump:
        args.dump.write_text(json.dumps([dataclasses.asdict(r) for r in rows]))
    print(f"\n{time.perf_counter() - started:.0f}s in all")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
