"""`parse_note(text, path) -> Note`: frontmatter and blocks assembled into the note model.

Pure. Frontmatter is split on its `---` lines and loaded with python-frontmatter's YAML handler
on the C loader; each top-level key keeps its line span so writes touch only vaultttc's lines.
Lines are split exactly as markdown-it splits them (`\\r\\n`, `\\r`, `\\n`), so spans agree.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from vaultttc.errors import NoteError
from vaultttc.notes.blocks import (
    BEGIN_RE,
    END_RE,
    FIELD_RE,
    Callout,
    Parsed,
    examples_from,
    next_sibling,
    normalize_lang,
    parse_blocks,
)
from vaultttc.notes.model import (
    AnswerRegion,
    Fence,
    Frontmatter,
    FrontmatterKey,
    Note,
    Question,
    Span,
)

__all__ = ["KNOWN_FIELDS", "parse_note", "split_lines"]

KNOWN_FIELDS = frozenset(
    {
        "expect", "verify", "strategy", "samples", "thinking_budget", "effort", "provider",
        "model", "id", "max_tokens", "max_cost_usd", "latency", "beam", "depth", "threshold",
        "timeout", "tolerance", "check",
    }
)  # fmt: skip
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_FENCE_LINE = re.compile(r"^-{3,}\s*$")
_TOP_KEY = re.compile(r"""^(?:"([^"]+)"|'([^']+)'|([^\s#\-{\[][^:]*?))\s*:(?:\s|$)""")
_PLACEHOLDER = re.compile(r"""(?<!["'])\{\{[^{}\n"]*\}\}(?!["'])""")
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML = YAMLHandler()


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split where markdown-it splits them."""
    return _LINE_RE.findall(text)


def parse_note(text: str, path: str, *, prefilter: bool = True) -> Note:
    """The note model of `text`; `prefilter=False` runs the block pass over every chunk
    (`notes.relevance`), which must give the same note."""
    bom = text.startswith("\ufeff")
    text = text.removeprefix("\ufeff")
    raw_lines = split_lines(text)
    lines = [line.rstrip("\r\n") for line in raw_lines]
    front = _frontmatter(lines, path)
    offset = front.span.end if front else 0
    body = "".join(raw_lines[offset:])
    parsed = parse_blocks(body, offset=offset, lines=lines, path=path, prefilter=prefilter)
    data: Mapping[str, Any] = front.data if front else {}
    language = _language(data)
    questions = _questions(parsed, lines, path=path, language=language)
    taken = {i for q in questions for i in q[1]}
    hidden = [q[0].span for q in questions] + [a.span for a in parsed.answers]
    owned = {q[0].answer for q in questions if q[0].answer}
    ttc = data.get("ttc")
    return Note(
        path=path,
        text=text,
        frontmatter=front,
        language=language,
        questions=tuple(q[0] for q in questions),
        examples=examples_from(parsed, language=language, taken=taken, hidden=hidden),
        fences=tuple(f for _, f in parsed.fences),
        changelog=parsed.changelog,
        orphan_answers=tuple(a for a in parsed.answers if a not in owned),
        newline=_newline(raw_lines),
        bom=bom,
        ttc=ttc if isinstance(ttc, Mapping) else {},
    )


def _newline(raw_lines: Sequence[str]) -> str:
    for line in raw_lines:
        if line.endswith("\r\n"):
            return "\r\n"
        if line.endswith(("\n", "\r")):
            return line[-1]
    return "\n"


def _frontmatter(lines: Sequence[str], path: str) -> Frontmatter | None:
    if not lines or not _FENCE_LINE.match(lines[0]):
        return None
    close = next((i for i in range(1, len(lines)) if _FENCE_LINE.match(lines[i])), None)
    if close is None:
        raise NoteError(path, 1, "frontmatter opened here is never closed by a `---` line")
    raw = "\n".join(lines[1:close])
    try:
        data = _load_yaml(raw)
    except yaml.YAMLError as exc:
        # The context mark is where the unfinished construct began (the `[` of an unclosed
        # list): a better place to send the author than where the parser gave up.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = min(2 + mark.line, close) if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else problem
        raise NoteError(path, line, f"malformed frontmatter: {detail}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise NoteError(path, 2, "frontmatter is not a mapping of keys to values")
    return Frontmatter(raw, data, Span(0, close + 1), _key_spans(lines, close))


def _load_yaml(raw: str) -> Any:
    """YAML data; Obsidian template placeholders (`created: {{date}}`) read as strings."""
    if not raw.strip():
        return {}
    try:
        return _YAML.load(raw, Loader=_LOADER)
    except yaml.YAMLError:
        quoted = _PLACEHOLDER.sub(lambda m: '"' + m.group(0) + '"', raw)
        if quoted == raw:
            raise
        return _YAML.load(quoted, Loader=_LOADER)


def _key_spans(lines: Sequence[str], close: int) -> tuple[FrontmatterKey, ...]:
    starts: list[tuple[int, str]] = []
    for i in range(1, close):
        match = _TOP_KEY.match(lines[i])
        if match:
            starts.append((i, next(g for g in match.groups() if g is not None).strip()))
    keys: list[FrontmatterKey] = []
    for n, (start, name) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else close
        while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1
        keys.append(FrontmatterKey(name, Span(start, end)))
    return tuple(keys)


def _language(data: Mapping[str, Any]) -> str:
    stack = data.get("tech_stack")
    if isinstance(stack, Mapping):
        language = stack.get("language")
        if isinstance(language, list) and language:
            language = language[0]
        if isinstance(language, str) and normalize_lang(language):
            return normalize_lang(language)
    return "python"


def _questions(
    parsed: Parsed, lines: Sequence[str], *, path: str, language: str
) -> list[tuple[Question, tuple[int, ...]]]:
    found: list[tuple[Question, tuple[int, ...]]] = []
    seen: dict[str, int] = {}
    claimed: set[AnswerRegion] = set()
    for callout in parsed.callouts:
        question, taken = _question(callout, parsed, lines, path=path, language=language)
        count = seen.get(question.id, 0) + 1
        seen[question.id] = count
        if count > 1 and "id" not in question.fields:
            question = replace(question, id=f"{question.id}-{count}")
        answer = _answer_for(question, parsed.answers, lines=lines, claimed=claimed)
        if answer is not None:
            claimed.add(answer)
        found.append((replace(question, answer=answer), taken))
    return found


def _question(
    callout: Callout, parsed: Parsed, lines: Sequence[str], *, path: str, language: str
) -> tuple[Question, tuple[int, ...]]:
    fenced = {
        n
        for _, fence in parsed.fences
        if callout.span.start <= fence.span.start < callout.span.end
        for n in range(fence.span.start, fence.span.end)
    }
    title, body, fields = _callout_text(callout, lines, path, fenced=fenced)
    stub, test, check, taken = _code_task(callout, parsed, language)
    if not (title or body or stub):
        raise NoteError(path, callout.span.start + 1, "a question callout with no question in it")
    end = max([callout.span.end] + [f.span.end for f in (stub, test, check) if f])
    first = lines[callout.span.start]
    prefix = first[: _nth_marker(first, callout.depth)]
    qid = fields.get("id") or "q-" + _digest(" ".join(f"{title}\n{body}".split()))[:6]
    fences = (f.code for f in (stub, test, check) if f)
    content = [title, body, repr(sorted(fields.items())), *fences]
    question = Question(
        id=qid,
        title=title,
        body=body,
        fields=fields,
        span=Span(callout.span.start, end),
        kind="code" if stub else "question",
        stub=stub,
        test=test,
        check=check,
        prefix=prefix,
        hash=_digest("\x00".join(content))[:12],
        authored=_authored(body),
    )
    return question, taken


def _authored(body: str) -> bool:
    """Whether a question's body (fields already taken out) holds the author's own text."""
    inside = False
    for line in body.split("\n"):
        text = line.strip().lstrip(">").strip()
        if BEGIN_RE.match(text):
            inside = True
        elif END_RE.match(text):
            inside = False
        elif text and not inside:
            return True
    return False


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _nth_marker(line: str, n: int) -> int:
    """Index of the n-th `>` of a quoted line: what comes before it is the container prefix."""
    seen = 0
    for i, char in enumerate(line):
        if char == ">":
            seen += 1
            if seen == n:
                return i
        elif char not in " \t":
            break
    return len(line) - len(line.lstrip(" \t"))


def _unquote(line: str, depth: int) -> str:
    for _ in range(depth):
        stripped = line.lstrip(" \t")
        if not stripped.startswith(">"):
            break
        line = stripped[1:]
        line = line[1:] if line.startswith(" ") else line
    return line


def _callout_text(
    callout: Callout, lines: Sequence[str], path: str, *, fenced: set[int]
) -> tuple[str, str, dict[str, str]]:
    """Title, body and `key:: value` fields; lines of fences inside the callout are body."""
    texts = [_unquote(lines[i], callout.depth) for i in range(*_range(callout.span))]
    head = texts[0].strip()
    title = head[head.index("]") + 1 :].lstrip("+-").strip()
    fields: dict[str, str] = {}
    body: list[str] = []
    for n, text in enumerate(texts[1:], start=callout.span.start + 2):
        match = None if n - 1 in fenced else FIELD_RE.match(text.strip())
        if match is None:
            body.append(text)
            continue
        key = match.group(1).lower()
        if key not in KNOWN_FIELDS:
            known = ", ".join(sorted(KNOWN_FIELDS))
            raise NoteError(path, n, f"unknown question field `{key}::` (known: {known})")
        if key in fields:  # which one the author meant is theirs to say, not ours to guess
            raise NoteError(path, n, f"question field `{key}::` given twice")
        fields[key] = match.group(2)
    return title, "\n".join(body).strip(), fields


def _range(span: Span) -> tuple[int, int]:
    return span.start, span.end


_ROLES = ("stub", "test", "check")


def _role(fence: Fence, language: str) -> str | None:
    """What a fence right after a question is: its check (`python check`, whatever the note's
    language: checks run in Python), its test fence, or the stub of a code task."""
    if fence.lang == "python" and "check" in fence.words[1:]:
        return "check"
    if "test" in fence.words:
        return "test"
    return "stub" if fence.lang == language else None


def _code_task(
    callout: Callout, parsed: Parsed, language: str
) -> tuple[Fence | None, Fence | None, Fence | None, tuple[int, ...]]:
    """The stub, test and check fences after a callout, each right after the one before, in
    that order (a test fence only after a stub), and the token indices they take."""
    fences = dict(parsed.fences)
    found: dict[str, Fence] = {}
    taken: list[int] = []
    at, rank = callout.index, 0
    while (j := next_sibling(parsed.tokens, at)) is not None and j in fences:
        role = _role(fences[j], language)
        if role is None or _ROLES.index(role) < rank or (role == "test" and "stub" not in found):
            break
        found[role] = fences[j]
        taken.append(j)
        at, rank = j, _ROLES.index(role) + 1
    return found.get("stub"), found.get("test"), found.get("check"), tuple(taken)


def _answer_for(
    question: Question,
    answers: Sequence[AnswerRegion],
    *,
    lines: Sequence[str],
    claimed: set[AnswerRegion],
) -> AnswerRegion | None:
    """The region right after the block (blank lines between), else the one with its id."""
    for answer in answers:
        gap = lines[question.span.end : answer.span.start]
        if answer.span.start >= question.span.end and all(not g.strip(" \t>") for g in gap):
            return answer
    return next((a for a in answers if a.id == question.id and a not in claimed), None)
