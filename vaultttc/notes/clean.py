"""`vaultttc clean`: a note taken back to what its author wrote, as line edits. Pure.

It removes vaultttc's answer regions (and the blank lines vaultttc added around them), the
changelog rows vaultttc appended (or the section or table it created), and restores the owned
frontmatter keys from the record the first region keeps (`notes.provenance`): a key's own
lines where the author had it, no key where vaultttc added it, no frontmatter where vaultttc
created it. Regions written before markers kept that record are removed, and the keys left
as they are (nothing says what the author had).
"""

from __future__ import annotations

from collections.abc import Sequence

from vaultttc.notes.edits import Edit, apply_edits, column_role
from vaultttc.notes.model import AnswerRegion, Changelog, Note
from vaultttc.notes.parse import split_lines
from vaultttc.notes.provenance import OWNED_KEYS, decode

__all__ = ["clean_edits", "clean_text"]

# Changelog rows vaultttc writes: a run's, and a living-docs record's.
_OWN_ROWS = ("vaultttc", "examples:")


def clean_text(note: Note) -> str | None:
    """The note without anything vaultttc wrote, or None when there is nothing to remove."""
    edits = clean_edits(note)
    if not edits:
        return None
    text = apply_edits(note.text, edits, newline=note.newline)
    had_newline = note.text.endswith(("\n", "\r"))
    if not had_newline:  # lines deleted at the end took the author's missing newline away
        text = text.removesuffix(note.newline) if text.endswith(note.newline) else text
    return None if text == note.text else text


def clean_edits(note: Note) -> list[Edit]:
    lines = [line.rstrip("\r\n") for line in split_lines(note.text)]
    regions = [q.answer for q in note.questions if q.answer] + list(note.orphan_answers)
    if not regions:
        return []
    first = min(regions, key=lambda r: r.span.start)
    spans = [_region_span(r, lines) for r in regions]
    spans += _changelog_spans(note.changelog, lines, log=first.attr("log"))
    edits = [Edit(start, end, ()) for start, end in _merged(spans)]
    return edits + _frontmatter_edits(note, lines, was=decode(first.attr("was")))


def _blank(lines: Sequence[str], i: int) -> bool:
    return 0 <= i < len(lines) and not lines[i].strip(" \t>")


def _region_span(region: AnswerRegion, lines: Sequence[str]) -> tuple[int, int]:
    gap = region.attr("gap") or ""
    start, end = region.span.start, region.span.end
    if "b" in gap and _blank(lines, start - 1):
        start -= 1
    if "a" in gap and _blank(lines, end):
        end += 1
    return start, end


def _changelog_spans(
    changelog: Changelog | None, lines: Sequence[str], *, log: str | None
) -> list[tuple[int, int]]:
    if changelog is None or changelog.table is None:
        return []
    table = changelog.table
    if log == "section":
        start = changelog.heading.start - (1 if _blank(lines, changelog.heading.start - 1) else 0)
        return [(start, table.end)]
    if log in ("table", "tablea"):
        start = table.start - (1 if _blank(lines, table.start - 1) else 0)
        end = table.end + (1 if log == "tablea" and _blank(lines, table.end) else 0)
        return [(start, end)]
    change = _change_column(changelog.columns)
    return [(n, n + 1) for n in range(table.start + 2, table.end) if _own_row(lines[n], change)]


def _change_column(columns: Sequence[str]) -> int | None:
    roles = [column_role(c) for c in columns]
    return roles.index("change") if "change" in roles else (len(columns) - 1 if columns else None)


def _own_row(line: str, change: int | None) -> bool:
    cells = [c.strip() for c in line.strip().lstrip(">").strip().strip("|").split("|")]
    if change is None or change >= len(cells):
        return False
    return cells[change].startswith(_OWN_ROWS)


def _merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _frontmatter_edits(note: Note, lines: Sequence[str], *, was: object) -> list[Edit]:
    front = note.frontmatter
    if front is None or not isinstance(was, dict):
        return []
    if was.get("_new"):
        return [Edit(front.span.start, front.span.end, ())]
    edits: list[Edit] = []
    for name in OWNED_KEYS:
        key = front.key(name)
        if key is None:
            continue
        original = was.get(name)
        restored = tuple(str(original).split("\n")) if isinstance(original, str) else ()
        if tuple(lines[key.span.start : key.span.end]) != restored:
            edits.append(Edit(key.span.start, key.span.end, restored))
    return edits
