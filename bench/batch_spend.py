"""Batch figures for bench/spend.py: vault_example asked synchronously and through the batch APIs.

For each of anthropic and openai (the real SDKs against the stub server in its own process,
100 ms latency), two copies of vault_example are answered with the same single-round strategy
(`self-consistency`: the vault's default `auto` is multi-round and refused in batch mode): one
by a plain run, one by `run --batch` (submit) then `run --batch` again (collect). It prints
both costs, their ratio (target: 0.50), the requests each made, and whether the notes came
out the same apart from their cost figures. `batch_figures()` is what bench/spend.py calls.

    python bench/batch_spend.py [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from providers import STUB, Stub

from vaultttc.engine.runner import RunOptions
from vaultttc.vault.batch_run import BatchOptions, run_batched
from vaultttc.vault.session import RunContext, run_paths

VAULT = Path(__file__).resolve().parents[1] / "vault_example"
LATENCY = 0.1
MODELS = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-6-sol"}
STRATEGY = "self-consistency"
TODAY = date(2026, 1, 2)


@dataclass(frozen=True, slots=True)
class BatchFigures:
    provider: str
    sync_usd: float
    batch_usd: float
    sync_requests: int
    batch_requests: int  # HTTP requests of submit + collect (files, batches, polls, results)
    batched_items: int
    same_notes: bool

    @property
    def ratio(self) -> float:
        return self.batch_usd / self.sync_usd if self.sync_usd else 0.0


@contextmanager
def stable_stub(latency: float) -> Iterator[Stub]:
    """The stub in its own process, answering each prompt the same way every time (so the
    synchronous and the batch run may be compared note for note)."""
    argv = [sys.executable, str(STUB), str(latency), "--stable"]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield Stub(child.stdout.readline().strip())
    finally:
        child.terminate()
        child.wait(timeout=10)


def _context(stub: Stub, provider: str) -> RunContext:
    env = (
        {"ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": stub.url}
        if provider == "anthropic"
        else {"OPENAI_API_KEY": "sk-openai-bench", "OPENAI_BASE_URL": stub.openai_url}
    )
    cli = {"provider": provider, "model": MODELS[provider], "strategy": STRATEGY}
    return RunContext(options=RunOptions(cli=cli), env=env, today=lambda: TODAY)


def _copy(folder: Path, name: str) -> Path:
    copy = folder / name
    shutil.copytree(VAULT, copy)
    shutil.rmtree(copy / ".vaultttc" / "cache.sqlite", ignore_errors=True)
    return copy


def _notes(vault: Path) -> dict[str, bytes]:
    pattern = re.compile(rb"\$\d+\.\d+")  # the cost figures: the one thing a batch changes
    return {
        p.relative_to(vault).as_posix(): pattern.sub(b"", p.read_bytes())
        for p in sorted(vault.rglob("*.md"))
    }


def batch_figures(stub: Stub, provider: str) -> BatchFigures:
    """Synchronous vs batch cost of vault_example for `provider` against `stub`."""
    context = _context(stub, provider)
    with tempfile.TemporaryDirectory() as folder:
        sync_vault, batch_vault = _copy(Path(folder), "sync"), _copy(Path(folder), "batch")
        before = stub.count()
        synchronous = asyncio.run(run_paths([sync_vault], context))
        middle = stub.count()
        submitted = asyncio.run(run_batched([batch_vault], context, BatchOptions()))
        collected = asyncio.run(run_batched([batch_vault], context, BatchOptions()))
        return BatchFigures(
            provider,
            synchronous.totals()["cost_usd"],
            collected.run.totals()["cost_usd"],
            middle - before,
            stub.count() - middle,
            sum(b.requests for b in submitted.submitted),
            _notes(sync_vault) == _notes(batch_vault),
        )


def print_figures(figures: list[BatchFigures]) -> None:
    print(
        f"synchronous vs batch cost, vault_example, strategy {STRATEGY}, stub {LATENCY * 1000:g} ms"
    )
    print(f"{'provider':<10} {'sync $':>10} {'batch $':>10} {'ratio':>6} {'sync req':>9} "
          f"{'batch req':>9} {'items':>6}  same notes")  # fmt: skip
    for f in figures:
        print(f"{f.provider:<10} {f.sync_usd:>10.6f} {f.batch_usd:>10.6f} {f.ratio:>6.2f} "
              f"{f.sync_requests:>9} {f.batch_requests:>9} {f.batched_items:>6}  "
              f"{'yes' if f.same_notes else 'no'}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    with stable_stub(LATENCY) as stub:
        figures = [batch_figures(stub, provider) for provider in MODELS]
    print_figures(figures)
    missed = [f for f in figures if abs(f.ratio - 0.5) > 0.01 or not f.same_notes]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
