"""Spend figures: quote vs actual cost, requests a dry run makes, synchronous vs batch cost.

For vault_example against the stub server (its own process, 100 ms latency), through the
real anthropic and openai SDKs, strategy self-consistency (N=4):

1. a first run teaches the vault its model's output length (the spend ledger);
2. `--dry-run --force` quotes a fresh run: the stub counts the requests it gets (target 0);
3. `--force --no-cache` runs it for real: the quote's expected cost beside the reported one
   (target: within ±25%), the worst case beside both (never below the actual);
4. the synchronous and batch cost of the same run (bench/batch_spend.py; target ratio 0.50).

    python bench/spend.py
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path

from batch_spend import LATENCY, MODELS, _context, _copy, batch_figures, print_figures, stable_stub
from providers import Stub

from vaultttc.engine.runner import RunOptions
from vaultttc.vault.session import RunContext, run_paths


def _with(context: RunContext, **knobs: object) -> RunContext:
    cli = {**context.options.cli, "samples": 4}
    force = bool(knobs.pop("force", False))
    return replace(context, options=RunOptions(cli=cli, force=force), **knobs)  # type: ignore[arg-type]


def quote_vs_actual(stub: Stub, provider: str) -> tuple[float, float, float, int]:
    """(quoted expected, quoted worst, actual) USD and the requests the dry run made."""
    base = _context(stub, provider)
    with tempfile.TemporaryDirectory() as folder:
        vault = _copy(Path(folder), "vault")
        asyncio.run(run_paths([vault], _with(base)))
        before = stub.count()
        dry = asyncio.run(run_paths([vault], _with(base, dry_run=True, force=True)))
        requests = stub.count() - before
        quote = dry.totals()["quote"]
        real = asyncio.run(run_paths([vault], _with(base, force=True, no_cache=True)))
        return quote["expected_usd"], quote["worst_usd"], real.totals()["cost_usd"], requests


def main() -> int:
    with stable_stub(LATENCY) as stub:
        quotes = {p: quote_vs_actual(stub, p) for p in MODELS}
        batches = [batch_figures(stub, p) for p in MODELS]
    print(f"quote vs actual, vault_example, self-consistency N=4, stub {LATENCY * 1000:g} ms")
    print(f"{'provider':<10} {'quoted $':>10} {'actual $':>10} {'error':>7} {'worst $':>10} "
          f"{'dry-run requests':>17}")  # fmt: skip
    missed = 0
    for provider, (expected, worst, actual, requests) in quotes.items():
        error = (expected - actual) / actual if actual else 0.0
        missed += abs(error) > 0.25 or requests != 0 or worst < actual
        print(f"{provider:<10} {expected:>10.6f} {actual:>10.6f} {error:>+7.1%} {worst:>10.6f} "
              f"{requests:>17}")  # fmt: skip
    print()
    print_figures(batches)
    missed += sum(abs(f.ratio - 0.5) > 0.01 or not f.same_notes for f in batches)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
