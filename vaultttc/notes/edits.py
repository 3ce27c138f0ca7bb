"""Surgical write-back: `plan_edits(note, writeback)` → line edits; `apply_edits(text, edits)`.

Pure and idempotent. vaultttc owns three frontmatter keys, its answer regions and the rows it
appends to the changelog table; every other byte of a note belongs to its author. Edits replace
whole line ranges, keep each untouched line's own ending, write new lines with the note's
newline, and keep a missing final newline missing. Applying a plan to a note that already has
its result plans nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from vaultttc.notes.model import Changelog, Frontmatter, Note, Question
from vaultttc.notes.parse import split_lines
from vaultttc.notes.provenance import Provenance, blank_needed, provenance
from vaultttc.notes.render import Templates

__all__ = [
    "AnswerUpdate",
    "ChangelogEntry",
    "ChangelogStyle",
    "Edit",
    "WriteBack",
    "apply_edits",
    "column_role",
    "new_changelog",
    "plan_edits",
    "region_lines",
    "rewrite",
]


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace 0-based lines `[start, end)` with `lines` (no endings). start == end inserts."""

    start: int
    end: int
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AnswerUpdate:
    """The rendered answer callout (Markdown, no markers, no container prefix) for a question,
    and the verdict and confidence its begin marker records."""

    question_id: str
    hash: str
    callout: str
    verdict: str = ""
    confidence: float | None = None
    stamp: tuple[tuple[str, str], ...] = ()  # `at=`, `by=`, `ans=`: when, which model, what


@dataclass(frozen=True, slots=True)
class ChangelogEntry:
    date: str
    change: str
    strategy: str = ""
    confidence: str = ""
    tokens: str = ""
    cost: str = ""


@dataclass(frozen=True, slots=True)
class ChangelogStyle:
    """How a new changelog section looks: the vault's own convention, or the default."""

    heading: str = ""  # empty: the `changelog_heading` template
    columns: tuple[str, ...] = ("Date", "Change")


@dataclass(frozen=True, slots=True)
class WriteBack:
    frontmatter: tuple[tuple[str, str], ...] = ()
    answers: tuple[AnswerUpdate, ...] = ()
    changelog: ChangelogEntry | None = None
    style: ChangelogStyle = ChangelogStyle()


def plan_edits(note: Note, writeback: WriteBack, *, templates: Templates) -> list[Edit]:
    lines = [line.rstrip("\r\n") for line in split_lines(note.text)]
    edits = _frontmatter_edits(note.frontmatter, writeback.frontmatter, lines)
    by_id = {q.id: q for q in note.questions}
    keep = provenance(note, lines, writes_changelog=writeback.changelog is not None)
    for update in writeback.answers:
        question = by_id.get(update.question_id)
        if question is not None:
            edits.extend(_answer_edit(question, update, lines, keep=keep))
    if writeback.changelog is not None:
        edits.extend(
            _changelog_edit(
                note.changelog,
                writeback.changelog,
                lines=lines,
                templates=templates,
                style=writeback.style,
            )
        )
    return edits


def rewrite(note: Note, writeback: WriteBack, *, templates: Templates) -> str | None:
    """The note's text after `writeback`, or None when it would change nothing."""
    edits = plan_edits(note, writeback, templates=templates)
    text = apply_edits(note.text, edits, newline=note.newline) if edits else note.text
    return None if text == note.text else text


def apply_edits(text: str, edits: Sequence[Edit], *, newline: str = "\n") -> str:
    raw = split_lines(text)
    final_newline = not raw or raw[-1].endswith(("\n", "\r"))
    # Bottom-up, so earlier spans stay valid; at one position the later edit goes in first,
    # so edits planned in document order (an answer, then a changelog at the end) stay in it.
    order = sorted(range(len(edits)), key=lambda i: (edits[i].start, edits[i].end, i))
    for edit in (edits[i] for i in reversed(order)):
        new = [line + newline for line in edit.lines]
        if edit.end >= len(raw) and new and not final_newline:
            if edit.start == len(raw) and raw:
                raw[-1] += newline
            new[-1] = new[-1].removesuffix(newline)
        raw[edit.start : edit.end] = new
    return "".join(raw)


def _frontmatter_edits(
    front: Frontmatter | None, values: Sequence[tuple[str, str]], lines: Sequence[str]
) -> list[Edit]:
    if not values:
        return []
    if front is None:
        return [Edit(0, 0, ("---", *(f"{k}: {v}" for k, v in values), "---"))]
    edits: list[Edit] = []
    added: list[str] = []
    for name, value in values:
        key = front.key(name)
        if key is None:
            added.append(f"{name}: {value}")
            continue
        line = _set_value(lines[key.span.start], value)
        if key.span.end - key.span.start > 1 or line != lines[key.span.start]:
            edits.append(Edit(key.span.start, key.span.end, (line,)))
    if added:
        edits.append(Edit(front.span.end - 1, front.span.end - 1, tuple(added)))
    return edits


_VALUE_RE = re.compile(r"^(?P<key>[^:]+:[ \t]*)(?P<value>.*?)(?P<comment>[ \t]+#.*)?$")


def _set_value(line: str, value: str) -> str:
    match = _VALUE_RE.match(line)
    assert match is not None
    key = match.group("key")
    return key + ("" if key[-1] in " \t" else " ") + value + (match.group("comment") or "")


def begin_marker(update: AnswerUpdate, keep: Provenance = ()) -> str:
    """`%% vaultttc:begin id=… hash=… verdict=… confidence=… [at=… by=… ans=…]
    [was=… log=… gap=…] %%`."""
    attrs = f" verdict={update.verdict}" if update.verdict else ""
    if update.confidence is not None:
        attrs += f" confidence={update.confidence:.2f}"
    attrs += "".join(f" {k}={v}" for k, v in (*update.stamp, *keep) if v)
    return f"%% vaultttc:begin id={update.question_id} hash={update.hash}{attrs} %%"


def region_lines(update: AnswerUpdate, prefix: str, keep: Provenance = ()) -> tuple[str, ...]:
    body = update.callout.rstrip("\n").split("\n")
    lines = [begin_marker(update, keep), *body]
    lines.append("%% vaultttc:end %%")
    return tuple((prefix + line) if line else prefix.rstrip() for line in lines)


def _answer_edit(
    question: Question, update: AnswerUpdate, lines: Sequence[str], *, keep: Provenance
) -> list[Edit]:
    if question.answer is not None:
        gap = question.answer.attr("gap") or ""
        region = region_lines(update, question.prefix, (*keep, ("gap", gap)))
        span = question.answer.span
        if tuple(lines[span.start : span.end]) == region:
            return []
        return [Edit(span.start, span.end, region)]
    blank = question.prefix.rstrip()
    after = question.span.end
    trailing = (blank,) if after < len(lines) and lines[after].strip(" \t>") else ()
    region = region_lines(update, question.prefix, (*keep, ("gap", "b" + "a" * len(trailing))))
    return [Edit(after, after, (blank, *region, *trailing))]


def _changelog_edit(
    changelog: Changelog | None,
    entry: ChangelogEntry,
    *,
    lines: Sequence[str],
    templates: Templates,
    style: ChangelogStyle,
) -> list[Edit]:
    if changelog is None:
        return [Edit(len(lines), len(lines), ("", *new_changelog(style, entry, templates)))]
    if changelog.table is None:
        row = templates.changelog_row(_cells(style.columns, entry))
        section = templates.changelog_table(style.columns, row).split("\n")
        at = changelog.insert_at
        after = ("",) if blank_needed(lines, at) else ()
        return [Edit(at, at, ("", *section, *after))]
    row = templates.changelog_row(_cells(changelog.columns, entry))
    if lines[changelog.insert_at - 1].strip() == row.strip():
        return []
    indent = lines[changelog.insert_at - 1][: _indent_of(lines[changelog.insert_at - 1])]
    return [Edit(changelog.insert_at, changelog.insert_at, (indent + row,))]


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t>"))


_COLUMN_ROLES = {
    "date": ("date", "날짜", "day", "when", "日付", "日期"),
    "change": ("change", "변경", "changes", "summary", "description", "what", "note", "notes"),
    "strategy": ("strategy", "전략"),
    "confidence": ("confidence", "신뢰도"),
    "tokens": ("tokens", "토큰"),
    "cost": ("cost", "비용", "usd"),
}


def new_changelog(style: ChangelogStyle, entry: ChangelogEntry, templates: Templates) -> list[str]:
    """The lines of a new changelog section in `style` (the templates' heading when it has
    none), its table holding one row for `entry`."""
    row = templates.changelog_row(_cells(style.columns, entry))
    heading = style.heading or templates.changelog_heading()
    return [heading, "", *templates.changelog_table(style.columns, row).split("\n")]


def _cells(columns: Sequence[str], entry: ChangelogEntry) -> list[str]:
    roles = [column_role(c) for c in columns]
    if "date" not in roles and roles:
        roles[0] = "date"
    if "change" not in roles and len(roles) > 1:
        last = max(i for i, r in enumerate(roles) if r != "date")
        roles[last] = "change"
    return [str(getattr(entry, r, "")).replace("|", "\\|") if r else "" for r in roles]


def column_role(column: str) -> str | None:
    """What a changelog column holds (date, change, strategy…), from its header."""
    folded = column.casefold().strip("* _")
    for role, names in _COLUMN_ROLES.items():
        if any(name in folded for name in names):
            return role
    return None
