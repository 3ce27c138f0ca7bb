"""The note fuzzer's long mode: 100,000 random notes through every property.

    python bench/fuzz.py [COUNT]

Prints how many notes were generated (every thousand on the way, with the violations so far,
and each first case as it is found), how many parsed, how many had questions vaultttc asks,
and the count of each violation: crashes (anything but a NoteError), write-backs that differ
when applied twice, answers not attached to their question, and notes that `clean` does not
take back byte for byte (a byte vaultttc does not own changed). The generators and the
properties are tests/notes/fuzz_notes.py, which the suite runs with a bounded count.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "notes"))
import fuzz_notes

from vaultttc.errors import NoteError
from vaultttc.notes.parse import parse_note

PROGRESS = 1000
COUNTS = ("notes", "parsed", "rejected with a NoteError", "with asked questions")


def main(count: int) -> int:
    seen: Counter[str] = Counter()
    examples: dict[str, str] = {}

    def first(kind: str, text: str) -> None:
        if kind not in examples:
            examples[kind] = text
            print(f"found {kind}: {text}", flush=True)  # whole: a regression example

    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(fuzz_notes.notes())
    def one(raw: str) -> None:
        seen["notes"] += 1
        if seen["notes"] % PROGRESS == 0:  # a run stopped early still says how far it got
            bad = sum(v for k, v in seen.items() if k not in COUNTS)
            print(f"{seen['notes']} notes, {bad} violations so far", flush=True)
        try:
            note = parse_note(raw, "fuzz.md")
        except NoteError:
            seen["rejected with a NoteError"] += 1
            return
        except Exception as exc:  # a crash
            seen["crashes"] += 1
            first("crashes", f"{raw!r}: {exc!r}")
            return
        seen["parsed"] += 1
        seen["with asked questions"] += any(not q.authored for q in note.questions)
        try:
            fuzz_notes.check(raw)
        except AssertionError as exc:
            kind = str(exc).split(" differs")[0].split(" not ")[0]
            seen[str(exc)] += 1
            first(kind, repr(raw))

    started = time.perf_counter()
    one()
    return summary(seen, examples, seconds=time.perf_counter() - started)


def summary(seen: Counter[str], examples: dict[str, str], *, seconds: float) -> int:
    """Print the counts and the first case of each violation; 1 when there was any."""
    for key in COUNTS:
        print(f"{key:>32}: {seen[key]}")
    violations = {k: v for k, v in seen.items() if k not in COUNTS}
    for name in ("crashes", "applying the write-back twice differs from once",
                 "answer not attached", "clean is not the inverse"):  # fmt: skip
        total = sum(v for k, v in violations.items() if k.startswith(name))
        print(f"{name:>48}: {total}")
    for kind, raw in examples.items():
        print(f"first {kind}: {raw[:400]}")
    print(f"{seconds:.1f} s, {seconds / max(1, seen['notes']) * 1000:.2f} ms per note")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
