"""Blocks from markdown-it's token stream: questions, code tasks, examples, answer regions,
Obsidian comments and the changelog table, each with exact line spans.

Pure. Markdown is parsed once, block-level only (the inline rules never run), with one small
plugin that teaches markdown-it Obsidian's `%% … %%` comments so that fences inside comments
are not blocks. Nothing here re-parses Markdown with regexes where the token stream knows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.token import Token

from vaultttc.errors import NoteError
from vaultttc.notes.model import AnswerRegion, Changelog, Example, Fence, Span
from vaultttc.notes.relevance import relevant_only

__all__ = [
    "BEGIN_RE",
    "END_RE",
    "FIELD_RE",
    "Callout",
    "Parsed",
    "normalize_lang",
    "parse_blocks",
]

BEGIN_RE = re.compile(r"^%%\s*vaultttc:begin\s+id=(\S+)\s+hash=(\S*)((?:\s+\w+=\S*)*)\s*%%\s*$")
_ATTR_RE = re.compile(r"(\w+)=(\S*)")
END_RE = re.compile(r"^%%\s*vaultttc:end\s*%%\s*$")
SETUP_RE = re.compile(r"^%%\s*vaultttc:\s*setup\s*%%$")
_RETRY_RE = re.compile(r"^retry[:=](\d+)$")
SKIP_RE = re.compile(r"^%%\s*vaultttc:\s*skip\b\s*(.*?)\s*%%\s*$", re.DOTALL)
FIELD_RE = re.compile(r"^([A-Za-z_][\w-]*)::\s*(.*?)\s*$")
# `[!faq]` and `[!help]` are Obsidian's aliases of `[!question]`.
CALLOUT_RE = re.compile(r"^\[!(?:question|faq|help)\]([+-]?)[ \t]*(.*)$", re.IGNORECASE)
_LANG_ALIASES = {
    "py": "python", "python3": "python", "py3": "python", "shell": "sh", "zsh": "sh",
    "ts": "typescript", "js": "javascript", "rs": "rust", "c++": "cpp", "golang": "go",
    "rb": "ruby", "kt": "kotlin", "cs": "csharp", "c#": "csharp",
}  # fmt: skip


def normalize_lang(word: str) -> str:
    """`Python` → `python`, `py` → `python`, `Python 3.12` → `python`."""
    match = re.match(r"[A-Za-z][\w+#-]*", word.strip())
    lang = match.group(0).lower() if match else ""
    return _LANG_ALIASES.get(lang, lang)


def _comment_rule(state: StateBlock, start: int, end: int, silent: bool) -> bool:  # noqa: PLR0917 - markdown-it's rule signature
    """Block rule for `%% … %%`: a comment starts at a line start and ends at the next `%%`."""
    pos = state.bMarks[start] + state.tShift[start]
    if state.is_code_block(start) or not state.src.startswith("%%", pos):
        return False
    line = start
    if "%%" not in state.src[pos + 2 : state.eMarks[start]]:
        line += 1
        while line < end:
            body = state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]
            if "%%" in body:
                break
            line += 1
        line = min(line, end - 1)
    if silent:
        return True
    token = state.push("obsidian_comment", "", 0)
    token.map = [start, line + 1]
    token.content = state.getLines(start, line + 1, state.blkIndent, False)
    state.line = line + 1
    return True


def _make_parser() -> MarkdownIt:
    # No `table` rule: it is the costliest block rule, and the only table vaultttc reads (the
    # changelog) is found in the paragraph that GFM would have made a table (`_table_rows`).
    # Setext headings and link reference definitions never hold a block vaultttc reads, and
    # their rules run on every paragraph line.
    md = MarkdownIt("commonmark").disable(["lheading", "reference"])
    md.core.ruler.disable(["inline", "text_join"])
    md.block.ruler.before(
        "fence", "obsidian_comment", _comment_rule, {"alt": ["paragraph", "blockquote", "list"]}
    )
    return md


_MD = _make_parser()


@dataclass(frozen=True, slots=True)
class Callout:
    """A `[!question]` blockquote as found in the stream, before notes are assembled."""

    index: int
    close: int
    span: Span
    depth: int
    head: str


@dataclass(frozen=True, slots=True)
class Parsed:
    tokens: Sequence[Token]
    callouts: tuple[Callout, ...]
    fences: tuple[tuple[int, Fence], ...]
    answers: tuple[AnswerRegion, ...]
    changelog: Changelog | None


def parse_blocks(
    body: str, *, offset: int, lines: Sequence[str], path: str, prefilter: bool = True
) -> Parsed:
    """Parse the note body (text after frontmatter, `offset` lines into the note).

    With `prefilter`, chunks holding nothing vaultttc reads are blanked first
    (`notes.relevance`); `prefilter=False` tokenizes everything (the tests compare the two)."""
    masked = relevant_only(body) if prefilter else None
    tokens = _MD.parse(body if masked is None else masked.text)
    if masked is not None and masked.blanked:
        tokens = _with_placeholders(tokens, masked.blanked)
    return Parsed(
        tokens=tokens,
        callouts=tuple(_callouts(tokens, offset)),
        fences=tuple(_fences(tokens, offset, lines=lines, path=path)),
        answers=_answers(tokens, offset, lines=lines, path=path),
        changelog=_changelog(tokens, offset, lines=lines),
    )


def _with_placeholders(tokens: list[Token], blanked: Sequence[tuple[int, int]]) -> list[Token]:
    """One top-level `vaultttc_skipped` token where each blanked chunk's blocks were."""
    out: list[Token] = []
    pending = list(reversed(blanked))
    for token in tokens:
        while pending and token.level == 0 and token.map and token.map[0] >= pending[-1][0]:
            out.append(_placeholder(pending.pop()))
        out.append(token)
    out.extend(_placeholder(chunk) for chunk in reversed(pending))
    return out


def _placeholder(chunk: tuple[int, int]) -> Token:
    return Token("vaultttc_skipped", "", 0, map=list(chunk), level=0, block=True)


def _span(token: Token, offset: int) -> Span:
    assert token.map is not None
    return Span(token.map[0] + offset, token.map[1] + offset)


def _callouts(tokens: Sequence[Token], offset: int) -> list[Callout]:
    found: list[Callout] = []
    depth = 0
    for i, token in enumerate(tokens):
        if token.type == "blockquote_open":
            depth += 1
            head = _first_inline(tokens, i)
            if head is not None and CALLOUT_RE.match(head.split("\n", 1)[0].strip()):
                close = _closing(tokens, i)
                found.append(Callout(i, close, _span(token, offset), depth, head))
        elif token.type == "blockquote_close":
            depth -= 1
    return found


def _first_inline(tokens: Sequence[Token], i: int) -> str | None:
    """The content of a blockquote's first paragraph, if it starts on the blockquote's first
    line (Obsidian reads `[!type]` only there: after a blank `>` it is a plain quote)."""
    if i + 2 < len(tokens) and tokens[i + 1].type == "paragraph_open":
        first, para = tokens[i].map, tokens[i + 1].map
        if first is not None and para is not None and first[0] != para[0]:
            return None
        return tokens[i + 2].content
    return None


def _closing(tokens: Sequence[Token], i: int) -> int:
    level = tokens[i].level
    close = tokens[i].type.replace("_open", "_close")
    for j in range(i + 1, len(tokens)):
        if tokens[j].type == close and tokens[j].level == level:
            return j
    return len(tokens) - 1


def _fences(
    tokens: Sequence[Token], offset: int, *, lines: Sequence[str], path: str
) -> list[tuple[int, Fence]]:
    found: list[tuple[int, Fence]] = []
    for i, token in enumerate(tokens):
        if token.type != "fence":
            continue
        span = _span(token, offset)
        _check_closed(token, span, lines=lines, path=path)
        first = lines[span.start]
        prefix = first[: len(first) - len(first.lstrip(" \t>"))]
        fence = Fence(
            info=token.info.strip(),
            lang=normalize_lang(token.info.split()[0]) if token.info.strip() else "",
            code=token.content,
            span=span,
            code_line=span.start + 1,
            prefix=prefix,
        )
        found.append((i, fence))
    return found


def _check_closed(token: Token, span: Span, *, lines: Sequence[str], path: str) -> None:
    """A top-level fence must be closed; one in a callout, quote or list is closed by the end
    of its container (CommonMark), as the reader sees it."""
    if token.level > 0:
        return
    last = lines[span.end - 1].lstrip(" \t>") if span.end - 1 < len(lines) else ""
    marker = token.markup
    closed = (
        span.end - span.start >= 2
        and last.startswith(marker[0] * len(marker))
        and not last.strip(marker[0]).strip()
    )
    if not closed:
        raise NoteError(path, span.first_line, f"unclosed code fence {marker}{token.info}")


def _answers(
    tokens: Sequence[Token], offset: int, *, lines: Sequence[str], path: str
) -> tuple[AnswerRegion, ...]:
    regions: list[AnswerRegion] = []
    open_at: tuple[Span, re.Match[str]] | None = None
    for token in tokens:
        if token.type != "obsidian_comment":
            continue
        span = _span(token, offset)
        text = token.content.strip()
        begin, end = BEGIN_RE.match(text), END_RE.match(text)
        if begin and open_at:
            raise _unterminated(path, open_at[0])
        if begin:
            open_at = (span, begin)
        elif end and open_at:
            whole = Span(open_at[0].start, span.end)
            body = "\n".join(lines[open_at[0].end : span.start])
            regions.append(_region(open_at[1], whole, body))
            open_at = None
        elif end:  # its begin marker was deleted: what the region held is no longer vaultttc's
            stray = "`%% vaultttc:end %%` with no `%% vaultttc:begin … %%` before it"
            raise NoteError(path, span.first_line, stray)
    if open_at:
        raise _unterminated(path, open_at[0])
    return tuple(regions)


def _region(begin: re.Match[str], span: Span, body: str) -> AnswerRegion:
    attrs = dict(_ATTR_RE.findall(begin.group(3) or ""))
    try:
        confidence = float(attrs["confidence"]) if "confidence" in attrs else None
    except ValueError:
        confidence = None
    return AnswerRegion(
        begin.group(1),
        begin.group(2),
        span,
        body,
        verdict=attrs.get("verdict") or None,
        confidence=confidence,
        attrs=tuple(attrs.items()),
    )


def _unterminated(path: str, span: Span) -> NoteError:
    return NoteError(path, span.first_line, "vaultttc answer region has no `%% vaultttc:end %%`")


def skip_reason(tokens: Sequence[Token], i: int) -> str | None:
    """Why the fence at `tokens[i]` is skipped: `skip` in its info, or a skip comment before."""
    if "skip" in tokens[i].info.split():
        return "skip in the fence's info string"
    previous = tokens[i - 1] if i > 0 else None
    if previous is not None and previous.type == "obsidian_comment":
        match = SKIP_RE.match(previous.content.strip())
        if match:
            return match.group(1) or "%% vaultttc: skip %%"
    return None


def next_sibling(tokens: Sequence[Token], i: int) -> int | None:
    """Index of the next token at the same nesting level, skipping a closed block."""
    j = _closing(tokens, i) + 1 if tokens[i].nesting == 1 else i + 1
    if j < len(tokens) and tokens[j].level == tokens[i].level and tokens[j].nesting >= 0:
        return j
    return None


def examples_from(
    parsed: Parsed, *, language: str, taken: set[int], hidden: Sequence[Span]
) -> tuple[Example, ...]:
    """Fences in the note's language that no code task or answer region owns."""
    by_index = dict(parsed.fences)
    examples: list[Example] = []
    for i, fence in parsed.fences:
        if i in taken or not _speaks(fence.lang, language) or _inside(fence.span, hidden):
            continue
        output = None
        j = next_sibling(parsed.tokens, i)
        if j is not None and j in by_index and by_index[j].lang == "output":
            output = by_index[j]
        examples.append(_example(parsed.tokens, i, fence=fence, output=output))
    return tuple(examples)


def _example(tokens: Sequence[Token], i: int, *, fence: Fence, output: Fence | None) -> Example:
    """The fence with what its info string (`setup`, `retry:N`, `isolated`) and the comment
    before it (`%% vaultttc: setup %%`) ask for."""
    words = fence.words[1:]
    before = tokens[i - 1] if i > 0 else None
    comment = before.content.strip() if before and before.type == "obsidian_comment" else ""
    setup = "setup" in words or bool(SETUP_RE.match(comment))
    retries = [int(m.group(1)) for w in words if (m := _RETRY_RE.match(w))]
    return Example(
        fence,
        output,
        skip_reason(tokens, i),
        setup=setup,
        retry=max(retries, default=0),
        isolated="isolated" in words,
    )


def _speaks(lang: str, language: str) -> bool:
    """A fence in the note's language; `pycon` (a REPL transcript) counts as python."""
    return lang == language or (language == "python" and lang == "pycon")


def _inside(span: Span, spans: Sequence[Span]) -> bool:
    return any(outer.start <= span.start and span.end <= outer.end for outer in spans)


def _changelog(tokens: Sequence[Token], offset: int, *, lines: Sequence[str]) -> Changelog | None:
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and "changelog" in tokens[i + 1].content.casefold():
            return _section(tokens, i, offset=offset, lines=lines)
    return None


def _section(tokens: Sequence[Token], i: int, *, offset: int, lines: Sequence[str]) -> Changelog:
    heading = _span(tokens[i], offset)
    level = int(tokens[i].tag[1:])
    end = heading.end  # after the section's last block: a new table never glues onto prose
    for token in tokens[i + 3 :]:
        same = token.level == tokens[i].level  # a heading inside a callout ends nothing
        if token.type == "heading_open" and same and int(token.tag[1:]) <= level:
            break
        if token.map is not None and token.level == tokens[i].level:
            end = max(end, _span(token, offset).end)
        if token.type == "paragraph_open" and token.level == tokens[i].level:
            table = _table_rows(_span(token, offset), lines)
            if table is not None:
                header = lines[table.start].strip().strip("|").split("|")
                return Changelog(heading, tuple(c.strip() for c in header), table, table.end)
    return Changelog(heading, (), None, end)


_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def _table_rows(paragraph: Span, lines: Sequence[str]) -> Span | None:
    """The GFM table in a paragraph: a `|` header row, a delimiter row, and the rows after."""
    for n in range(paragraph.start, paragraph.end - 1):
        if "|" in lines[n] and _DELIMITER.match(lines[n + 1]):
            return Span(n, paragraph.end)
    return None
