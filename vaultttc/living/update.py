"""`vaultttc test --update`: rewrite the `output` fences of examples that failed only on their
output, to what the examples now print.

`plan_update` is pure: it takes a note as it is now and a run's report, and returns the new
text (or None). An output fence is rewritten only when its example ran without an exception
and only its stdout differed, and only when the example's code and the output fence are still
what ran (an edit made since is never overwritten). `update_outputs` saves through the same
compare-and-swap as every other write, re-planning on a concurrent edit.

Must not: create an output fence the author did not write, touch any example's code, or run
example code.
"""

from __future__ import annotations

from pathlib import Path

from vaultttc.living.examples import ExampleResult, ExamplesReport
from vaultttc.living.outputs import normalize_output
from vaultttc.notes.model import Example, Note
from vaultttc.notes.parse import split_lines
from vaultttc.vault.files import Loaded, update_note

__all__ = ["plan_update", "stale_outputs", "update_outputs"]


def stale_outputs(report: ExamplesReport) -> tuple[ExampleResult, ...]:
    """The results whose example passed except for its output (`stdout` is what it printed)."""
    return tuple(r for r in report.results if r.status == "failed" and r.stdout is not None)


def plan_update(note: Note, report: ExamplesReport) -> str | None:
    """The note's text with each stale output fence holding the new stdout; None if none."""
    lines = split_lines(note.text)
    current = {_key(e): e for e in note.examples if e.output is not None}
    changed = False
    # Bottom up, so that a rewrite never moves the lines of the fences still to rewrite.
    for result in sorted(stale_outputs(report), key=lambda r: -r.example.line):
        example = current.get(_key(result.example))
        if example is None or example.output is None or result.stdout is None:
            continue  # edited since it ran: leave it to the next run
        output = example.output
        start, count = output.code_line, len(output.code.splitlines())
        lines[start : start + count] = _fence_lines(result.stdout, output.prefix, note.newline)
        changed = True
    return "".join(lines) if changed else None


def _key(example: Example) -> tuple[int, str, int, str]:
    output = example.output
    assert output is not None
    return (example.fence.code_line, example.fence.code, output.code_line, output.code)


def _fence_lines(stdout: str, prefix: str, newline: str) -> list[str]:
    text = normalize_output(stdout)
    return [(prefix + line if line else prefix.rstrip()) + newline for line in text.splitlines()]


def update_outputs(path: Path, report: ExamplesReport) -> int:
    """Rewrite the stale output fences of the note at `path`; how many were stale (0: none,
    and nothing written). Raises `StaleNoteError` when the note kept changing."""
    stale = len(stale_outputs(report))
    if stale:

        def plan(loaded: Loaded) -> str | None:
            return plan_update(loaded.note, report)

        update_note(path, plan, display=report.path)
    return stale
