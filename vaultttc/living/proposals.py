"""`vaultttc test --repair`, the pure part: prompts, candidates, and the proposal regions.

A failing example gets a prompt (`repair_prompt`: the note's prose around it, its code, its
expected output, the error and traceback); a reply's last fence is the candidate
(`candidate_code`). A candidate must keep the example's own expectations — every `assert` of
the author's code, and a REPL transcript's expected outputs — before it is even run
(`keeps_expectations`); it then runs in the note's namespace as `with_candidate` builds it.
`plan_proposal` writes the passing one as a folded `[!tip]- Proposed fix` callout right after
the example (after its output fence), between vaultttc markers (id `fix-…`, the hash of the
author's code), with a unified diff; the author's fence is never changed, and `vaultttc
clean` removes the region as it removes every vaultttc region. `plan_apply` replaces each
example's code with the proposal written after it (only while the example is the code the
proposal was drawn for, and while it still passes when run again), removes the region and
logs a changelog row.

Must not: run code, call a provider, or read or write files.
"""

from __future__ import annotations

import ast
import difflib
import doctest
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt

from vaultttc.living.examples import ExampleResult, ExamplesReport, is_transcript
from vaultttc.notes.blocks import normalize_lang
from vaultttc.notes.edits import (
    AnswerUpdate,
    ChangelogEntry,
    Edit,
    WriteBack,
    apply_edits,
    plan_edits,
    region_lines,
)
from vaultttc.notes.parse import split_lines
from vaultttc.notes.provenance import provenance

if TYPE_CHECKING:
    from collections.abc import Callable

    from vaultttc.notes.model import AnswerRegion, Example, Fence, Note
    from vaultttc.notes.render import Templates

__all__ = [
    "SYSTEM",
    "Proposal",
    "candidate_code",
    "code_hash",
    "find_example",
    "keeps_expectations",
    "plan_apply",
    "plan_proposal",
    "proposal_for",
    "repair_prompt",
    "repairable",
    "with_candidate",
]

SYSTEM = (
    "You fix code examples in technical notes. Change as little as you can, keep what the "
    "example shows and checks, and reply with the whole fixed example in one fenced block."
)
_PROSE_BEFORE, _PROSE_AFTER = 20, 8


@dataclass(frozen=True, slots=True)
class Proposal:
    """The first candidate that passed: `chosen` of `drawn` candidates, and what they cost."""

    example: Example
    code: str
    chosen: int
    drawn: int
    provider: str
    model: str
    tokens: int
    cost_usd: float
    date: str


def repairable(report: ExamplesReport) -> tuple[ExampleResult, ...]:
    """The failed examples a fix could help: not those failed by a failing setup fence."""
    return tuple(
        r for r in report.results if r.status == "failed" and not r.message.startswith("setup ")
    )


def repair_prompt(note: Note, result: ExampleResult) -> str:
    """What a model is told about one failing example (never the rest of the vault)."""
    example = result.example
    lines = [line.rstrip("\r\n") for line in split_lines(note.text)]
    fence, end = example.fence, _end(example)
    before = "\n".join(lines[max(0, fence.span.start - _PROSE_BEFORE) : fence.span.start])
    after = "\n".join(lines[end : end + _PROSE_AFTER])
    lang = fence.lang or "python"
    parts = [
        f"An example in the note {note.path} fails when it is run. Fix the example's code so "
        "that it runs without an exception"
        + (", prints exactly the expected output" if example.output else "")
        + ", and keeps every assert (and every expected output of a REPL session) it has.",
        f"The note around the example:\n{before}\n[the example]\n{after}".rstrip(),
        f"The example (line {example.line}):\n```{lang}\n{fence.code.rstrip()}\n```",
    ]
    if example.output is not None:
        parts.append(f"Its expected output:\n```output\n{example.output.code.rstrip()}\n```")
    error = f"It failed at line {result.line}: {result.message}"
    parts.append(error + (f"\n{result.details.rstrip()}" if result.details else ""))
    parts.append(f"Reply with the fixed example in one ```{lang} fence.")
    return "\n\n".join(parts)


def candidate_code(reply: str, lang: str) -> str | None:
    """The last fence of the reply in the example's language (or without one)."""
    wanted = {normalize_lang(lang), "", "pycon" if normalize_lang(lang) == "python" else ""}
    codes = [
        token.content
        for token in MarkdownIt("commonmark").parse(reply)
        if token.type == "fence"
        and normalize_lang(token.info.split()[0] if token.info else "") in wanted
    ]
    return codes[-1] if codes and codes[-1].strip() else None


def _expectations(code: str, *, transcript: bool) -> Counter[str]:
    """A transcript's expected outputs; else each assert with the statements around it, so
    that an assert moved under an `if`, a `try` or a function no longer counts as kept."""
    if transcript:
        parsed = doctest.DocTestParser().get_examples(code)
        return Counter(" ".join(example.want.split()) for example in parsed if example.want)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return Counter()
    found: Counter[str] = Counter()
    pending: list[tuple[ast.AST, str]] = [(tree, "")]
    while pending:
        node, where = pending.pop()
        if isinstance(node, ast.Assert):
            found[f"{where}: {ast.unparse(node)}"] += 1
        elif isinstance(node, ast.stmt | ast.Module | ast.excepthandler):
            inner = f"{where}/{type(node).__name__}" if isinstance(node, ast.stmt) else where
            pending.extend((child, inner) for child in ast.iter_child_nodes(node))
    return found


def _assert_lines(code: str) -> Counter[str]:
    """The assert lines as written (indent kept, spaces normalised): for code that does not
    parse, whose asserts the AST cannot give."""
    lines = (line.rstrip() for line in code.splitlines())
    return Counter(
        line[: len(line) - len(line.lstrip())] + " ".join(line.split())
        for line in lines
        if line.lstrip().startswith("assert ")
    )


def _kept(required: Counter[str], present: Counter[str]) -> bool:
    return all(present[e] >= n for e, n in required.items())


def keeps_expectations(example: Example, code: str) -> bool:
    """Whether `code` still checks everything the author's code checks."""
    transcript = is_transcript(example.fence)
    original = example.fence.code
    if transcript or _parses(original):
        required = _expectations(original, transcript=transcript)
        return _kept(required, _expectations(code, transcript=transcript))
    return _kept(_assert_lines(original), _assert_lines(code))


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


def with_candidate(note: Note, example: Example, code: str) -> tuple[Note, int]:
    """The note as it runs with `code` in place of `example`: the examples before it and the
    setup fences, then the candidate (its index in the result); later examples left out."""
    kept: list[Example] = []
    at = note.examples.index(example)
    for i, other in enumerate(note.examples):
        if i < at or (other.setup and i != at):
            kept.append(other)
    candidate = replace(example, fence=replace(example.fence, code=code), retry=0)
    kept.insert(at, candidate)
    return replace(note, examples=tuple(kept)), at


def _end(example: Example) -> int:
    return (example.output or example.fence).span.end


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def code_hash(example: Example) -> str:
    """What a proposal was drawn for: the example's code and its expected output."""
    output = example.output.code if example.output is not None else ""
    return _digest(example.fence.code + "\0" + output)[:16]


def find_example(note: Note, example: Example) -> Example | None:
    """`example` (the code and output fence that ran) in `note` as it is now, or None when it
    was edited since; of several equal ones, the nearest to where it was."""
    same = [e for e in note.examples if code_hash(e) == code_hash(example)]
    return min(same, key=lambda e: abs(e.line - example.line), default=None)


def proposal_for(note: Note, example: Example) -> AnswerRegion | None:
    """The proposal region right after `example` (blank lines between), if there is one."""
    lines = [line.rstrip("\r\n") for line in split_lines(note.text)]
    for region in note.orphan_answers:
        gap = lines[_end(example) : region.span.start]
        after = region.id.startswith("fix-") and region.span.start >= _end(example)
        if after and all(not g.strip(" \t>") for g in gap):
            return region
    return None


def _diff(example: Example, code: str, path: str) -> str:
    old, new = example.fence.code.splitlines(), code.splitlines()
    label = f"{path}:{example.line} (as written)"
    return "\n".join(difflib.unified_diff(old, new, label, "proposed", lineterm=""))


def _checks(example: Example) -> str:
    transcript, code = is_transcript(example.fence), example.fence.code
    parsed = transcript or _parses(code)
    found = _expectations(code, transcript=transcript) if parsed else _assert_lines(code)
    checks = ["no exception"]
    if found:
        count = sum(found.values())
        what = "REPL output" if transcript else "assert"
        checks.append(f"{count} {what}{'s' * (count != 1)}")
    if example.output is not None:
        checks.append("the output fence")
    return "judged by " + ", ".join(checks)


def _callout(proposal: Proposal, path: str, *, templates: Templates) -> str:
    example = proposal.example
    ticks = max((len(run) for run in re.findall(r"`{3,}", proposal.code)), default=2)
    return templates.render(
        "proposal.md.j2",
        {"fence": "`" * max(3, ticks + 1), "language": example.fence.lang or "python",
         "code": proposal.code, "diff": _diff(example, proposal.code, path),
         "chosen": proposal.chosen, "drawn": proposal.drawn, "checks": _checks(example),
         "tokens": proposal.tokens, "cost_usd": proposal.cost_usd,
         "provider": proposal.provider, "model": proposal.model, "date": proposal.date},
    )  # fmt: skip


def plan_proposal(note: Note, proposal: Proposal, *, templates: Templates) -> str | None:
    """The note with the proposal after its example; None when the example was edited since
    it ran, or already carries this proposal."""
    example = find_example(note, proposal.example)
    if example is None:
        return None
    lines = [line.rstrip("\r\n") for line in split_lines(note.text)]
    update = AnswerUpdate(
        f"fix-{code_hash(example)[:8]}", code_hash(example),
        _callout(replace(proposal, example=example), note.path, templates=templates),
        verdict="proposed",
    )  # fmt: skip
    keep = provenance(note, lines, writes_changelog=False)
    prefix, existing = example.fence.prefix, proposal_for(note, example)
    if existing is not None:
        region = region_lines(update, prefix, (*keep, ("gap", existing.attr("gap") or "")))
        edit = Edit(existing.span.start, existing.span.end, region)
    else:
        at, blank = _end(example), prefix.rstrip()
        trailing = (blank,) if at < len(lines) and lines[at].strip(" \t>") else ()
        region = region_lines(update, prefix, (*keep, ("gap", "b" + "a" * len(trailing))))
        edit = Edit(at, at, (blank, *region, *trailing))
    text = apply_edits(note.text, [edit], newline=note.newline)
    return None if text == note.text else text


def _accepted(note: Note, example: Example) -> tuple[AnswerRegion, Fence] | None:
    region = proposal_for(note, example)
    if region is None or region.hash != code_hash(example):
        return None  # no proposal, or one drawn for code the author has changed since
    fences = [
        f
        for f in note.fences
        if region.span.start < f.span.start and f.span.end <= region.span.end
        and normalize_lang(f.lang) == normalize_lang(example.fence.lang)
    ]  # fmt: skip
    return (region, fences[0]) if fences else None


def _removal(region: AnswerRegion, lines: list[str]) -> Edit:
    gap = region.attr("gap") or ""
    start, end = region.span.start, region.span.end
    start -= "b" in gap and start > 0 and not lines[start - 1].strip(" \t>")
    end += "a" in gap and end < len(lines) and not lines[end].strip(" \t>")
    return Edit(start, end, ())


def plan_apply(
    note: Note, *, today: str, templates: Templates, passes: Callable[[Example, str], bool]
) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """The note with each still-valid proposal in place of its example, the regions removed
    and one changelog row; the lines of the examples replaced (none: text unchanged); and those
    of the examples whose proposal no longer `passes` (they keep it).

    Still valid: drawn for the example as it is now (its code and output fence), and `passes`
    (the fix, run again in the note as it is now: an earlier example or the vault's setup note
    may have changed since) says so."""
    lines = [line.rstrip("\r\n") for line in split_lines(note.text)]
    edits: list[Edit] = []
    applied: list[int] = []
    kept: list[int] = []
    for example in note.examples:
        accepted = _accepted(note, example)
        if accepted is None:
            continue
        region, fence = accepted
        if not passes(example, fence.code):
            kept.append(example.line)
            continue
        prefix, start = example.fence.prefix, example.fence.code_line
        new = tuple(
            (prefix + line) if line else prefix.rstrip() for line in fence.code.splitlines()
        )
        edits += [
            Edit(start, start + len(example.fence.code.splitlines()), new),
            _removal(region, lines),
        ]
        applied.append(example.line)
    if not applied:
        return note.text, (), tuple(kept)
    where = ", ".join(str(line) for line in applied)
    change = f"examples: applied the proposed fix at line {where}"
    entry = ChangelogEntry(date=today, change=change, strategy="repair")
    edits += plan_edits(note, WriteBack(changelog=entry), templates=templates)
    return apply_edits(note.text, edits, newline=note.newline), tuple(applied), tuple(kept)
