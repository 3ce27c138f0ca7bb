"""Programs with a harness appended, run as one sandbox batch, read back by a nonce line.

For programs whose code is the note's own with the model's output as data (the `check`
verifier): a fresh nonce per batch, the harness (built from the nonce) appended to every
program, one `arun_python_batch`, and per program the text after the last line that starts
with the nonce (None when no such line was printed: the program crashed, timed out or exited
before its harness). Code from a model never goes this way: whatever runs in the program's
process can print the line, so candidates are judged from a process of their own
(`sandbox/judge.py`). Must not decide what the payload means; the callers read it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vaultttc.sandbox.parent import SandboxResult, arun_python_batch

__all__ = ["Marked", "run_marked"]


@dataclass(frozen=True, slots=True)
class Marked:
    """One program's sandbox result and the payload of its last nonce line."""

    result: SandboxResult
    payload: str | None


async def run_marked(
    programs: Sequence[str],
    harness: Callable[[str], str],
    *,
    timeout_s: float,
    memory_mb: int = 512,
    workers: int | None = None,
) -> list[Marked]:
    """Run each program followed by `harness(nonce)`; batch workers scale with the count."""
    nonce = "vaultttc-" + secrets.token_hex(8)
    tail = harness(nonce)
    count = min(workers or os.cpu_count() or 1, max(1, len(programs) // 8))
    results = await arun_python_batch(
        [p + tail for p in programs], timeout_s=timeout_s, memory_mb=memory_mb, workers=count
    )
    return [Marked(r, _payload(r.stdout, nonce)) for r in results]


def _payload(stdout: str, nonce: str) -> str | None:
    marks = [line for line in stdout.splitlines() if line.startswith(nonce)]
    return marks[-1][len(nonce) :] if marks else None
