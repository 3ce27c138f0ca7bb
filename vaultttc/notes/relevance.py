"""Which parts of a note body the block pass needs, so that markdown-it never tokenizes prose.

Pure. vaultttc reads only blockquotes (callouts), fences, `%% … %%` comments and the changelog
section; most of a real note is headings, paragraphs and lists, whose tokenizing (list items
above all) is most of the block pass. `relevant_only(body)` cuts the body into top-level chunks
at the places where CommonMark guarantees that nothing before can continue after — a blank
line followed by a line that starts in column 0 with neither a list marker nor anything else
that could continue a construct, outside any fence or comment — and blanks the chunks that hold
none of those. Blank lines keep every line number, so token maps stay exact; one placeholder
token per blanked chunk keeps "the next block" meaning what it meant.

When the chunking could be wrong it is not attempted (`None`: parse the whole body): an HTML
block (it can span blank lines), or a fence or comment that starts inside a list or indented
(its end depends on the container's, which only the full pass knows). `tests/notes` checks on
every corpus note and on fuzzed notes that the notes parsed both ways are equal.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Masked", "relevant_only"]

_NEWLINES = re.compile(r"\r\n?")
_HTML_LINE = re.compile(r"^[ \t]{0,3}<", re.MULTILINE)
# A blank line (spaces and tabs only, as CommonMark counts them) before a line that starts in
# column 0 with no list marker: where a chunk may start.
_BOUNDARY = re.compile(r"^[ \t]*\n(?=[^ \t\n])(?!(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$))", re.MULTILINE)
_MARKER = re.compile(r"```|~~~|%%")  # the lines holding one are where fences and comments open
_QUOTE = re.compile(r"^[ \t\-*+.)0-9]*>", re.MULTILINE)  # a quote, also in a list item
_CHANGELOG = re.compile(r"#[^\n]*changelog", re.IGNORECASE)
_FENCE_OPEN = re.compile(r"(`{3,}|~{3,})(.*)")
_MARKERS = ("```", "~~~", "%%")
_CONTAINER = " \t-*+.)0123456789"


@dataclass(frozen=True, slots=True)
class Masked:
    """The body with its irrelevant chunks blanked (`\\n` line endings, as markdown-it
    normalizes them), and the blanked chunks' line ranges, body-relative."""

    text: str
    blanked: tuple[tuple[int, int], ...]


def relevant_only(body: str) -> Masked | None:
    """`body` with what the block pass does not need blanked; None when it cannot be told."""
    text = _NEWLINES.sub("\n", body) if "\r" in body else body
    if "<" in text and _HTML_LINE.search(text):
        return None
    regions = _regions(text)
    if regions is None:
        return None
    tail = _CHANGELOG.search(text)  # from the changelog heading on, everything counts
    tail_at = tail.start() if tail else len(text)
    pieces: list[str] = []
    blanked: list[tuple[int, int]] = []
    line = 0
    for start, end in _chunks(text, regions):
        chunk = text[start:end]
        newlines = chunk.count("\n")
        if end > tail_at or _needed(chunk) or not chunk.strip():
            pieces.append(chunk)
        else:
            pieces.append("\n" * newlines)
            blanked.append((line, line + newlines + (not chunk.endswith("\n"))))
        line += newlines
    return Masked("".join(pieces), tuple(blanked)) if blanked else Masked(text, ())


def _needed(chunk: str) -> bool:
    return any(m in chunk for m in _MARKERS) or (">" in chunk and bool(_QUOTE.search(chunk)))


def _chunks(text: str, regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Top-level chunks as character ranges: cut at each boundary outside a fence or comment."""
    cuts = [0]
    spans = iter(regions)
    region = next(spans, None)
    for match in _BOUNDARY.finditer(text):
        at = match.end()
        while region is not None and region[1] <= at:
            region = next(spans, None)
        if region is None or not region[0] < at < region[1]:
            cuts.append(at)
    cuts.append(len(text))
    return [(a, b) for a, b in itertools.pairwise(cuts) if a < b]


def _regions(text: str) -> list[tuple[int, int]] | None:
    """The character ranges of top-level fences and comments (from their first line to the end
    of their last), or None when one opens where only a full parse knows its end."""
    regions: list[tuple[int, int]] = []
    fence, comment, opened_at = "", False, 0
    for start, end in _marked_lines(text):
        line = text[start:end]
        if fence or comment:
            if (fence and _closes(line, fence)) or (comment and "%%" in line):
                regions.append((opened_at, end))
                fence, comment = "", False
            continue
        opened = _opens(line)
        if opened is None:
            return None
        fence, comment = opened
        opened_at = start
    if fence or comment:
        regions.append((opened_at, len(text)))
    return regions


def _marked_lines(text: str) -> Iterator[tuple[int, int]]:
    """The (start, end) of each line holding a fence or comment marker, in order."""
    done = -1
    for match in _MARKER.finditer(text):
        if match.start() < done:
            continue
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        done = end = len(text) if end < 0 else end
        yield start, end


def _opens(line: str) -> tuple[str, bool] | None:
    """What a top-level line opens: a fence (its marker), a comment, nothing (`("", False)`);
    None for a fence or comment opening inside a list item or indented (a blockquote's ends
    with the blockquote, at the latest at the next blank line, so those are safe)."""
    opened = _FENCE_OPEN.match(line) if line[:1] in ("`", "~") else None
    if opened and (line[0] == "~" or "`" not in opened.group(2)):
        return opened.group(1), False
    if line.startswith("%%"):
        return "", "%%" not in line[2:]
    nested = line.lstrip(_CONTAINER).startswith(_MARKERS)
    return None if nested and not line.lstrip(" \t").startswith(">") else ("", False)


def _closes(line: str, fence: str) -> bool:
    stripped = line.lstrip(" ")
    return (
        len(line) - len(stripped) <= 3
        and stripped.startswith(fence)
        and not stripped.rstrip(" \t").strip(fence[0])
    )
