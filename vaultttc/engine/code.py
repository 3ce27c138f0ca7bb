"""Code out of candidates: a chat reply's fenced program or a base model's continuation.

`extract_code` turns either into the program to test: the fence that defines the entry point
(or the last Python fence), or the stub plus the continuation cut where the function ends,
with the helpers and imports it uses. Pure string functions: no IO, no execution.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from vaultttc.engine.extract import without_thinking

__all__ = ["extract_code", "finished_before_cut"]

_FENCE_OPEN = re.compile(r"^ {0,3}(?P<mark>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_PYTHON_INFO = {"", "python", "py", "python3", "py3"}
_TOP_DEF = re.compile(r"(?:async\s+)?def\s+(\w+)|class\s+(\w+)")
_TOP_IMPORT = re.compile(r"import\s+[\w., ]+|from\s+[\w.]+\s+import\s+.+")
_CLOSER = re.compile(r"[)\]}]")
# State a solution sets up beside itself: `fib4.cache = {}`, `MEMO = {}`.
_TOP_STATE = re.compile(r"([A-Za-z_]\w*)\.\w+\s*=[^=]|([A-Z][A-Z0-9_]*)\s*=[^=]")


def _fences(text: str) -> list[tuple[str, str]]:
    """(info, body) of each fenced block; an unclosed last fence runs to the end."""
    found: list[tuple[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if m is None:
            i += 1
            continue
        mark, body = m["mark"], []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(mark):
            body.append(lines[i])
            i += 1
        found.append((m["info"].strip().lower(), "\n".join(body) + "\n"))
        i += 1
    return found


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def _statement_rows(code: str) -> tuple[set[int], int]:
    """Rows (1-based) where a statement starts at column 0, and the last row tokenized.

    The tokenizer knows what a line-start heuristic cannot: a column-0 line inside a
    multi-line string or bracket continues a statement. Truncated or mis-indented code stops
    it early; past that row the caller falls back to looking at the first character.
    """
    rows: set[int] = set()
    starting, last = True, 0
    skip = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            last = token.end[0] if token.type != tokenize.ENDMARKER else last
            if token.type == tokenize.NEWLINE:
                starting = True
            elif token.type not in skip and starting:
                if token.start[1] == 0:
                    rows.add(token.start[0])
                starting = False
    except (tokenize.TokenError, SyntaxError):
        pass
    return rows, last


def _chunks(lines: list[str]) -> tuple[str, list[str]]:
    """Split code into the leading indented part and its top-level statements (with bodies)."""
    rows, known = _statement_rows("".join(lines))
    head: list[str] = []
    chunks: list[list[str]] = []
    for row, line in enumerate(lines, 1):
        if row <= known:
            top = row in rows
        else:
            top = line[:1] not in ("", " ", "\t", "\n", "\r", "#") and not _CLOSER.match(line)
        if top and not (chunks and chunks[-1][-1].startswith("@")):
            chunks.append([line])
        elif chunks:
            chunks[-1].append(line)
        else:
            head.append(line)
    return "".join(head), ["".join(c) for c in chunks]


def _chunk_names(chunk: str) -> tuple[str, list[str]] | None:
    """('def'|'state'|'import', names) for a definition, set-up or import; None otherwise."""
    first = next((line for line in chunk.splitlines() if not line.startswith("@")), "")
    if (m := _TOP_DEF.match(first)) is not None:
        return "def", [m[1] or m[2]]
    if (m := _TOP_STATE.match(first)) is not None:
        return "state", [m[1] or m[2]]
    if _TOP_IMPORT.fullmatch(first.split("#")[0].strip()) is None:
        return None
    if first.startswith("from"):
        bound = first.split(" import ", 1)[1]
    else:
        bound = first.removeprefix("import")
    names = [part.split(" as ")[-1].strip().split(".")[0] for part in bound.strip("() ").split(",")]
    return "import", [n for n in names if n]


def _referenced(names: list[str], code: str) -> bool:
    return any(re.search(rf"\b{re.escape(n)}\b", code) for n in names)


def _with_helpers(kept: str, chunks: list[str], *, skip: set[str]) -> str:
    """`kept` plus the leading definitions/imports it uses (transitively); stop at a statement."""
    candidates: list[tuple[str, list[str]]] = []
    for chunk in chunks:
        named = _chunk_names(chunk)
        if named is None:
            break
        if named[0] != "def" or not set(named[1]) & skip:
            candidates.append((chunk, named[1]))
    chosen: set[int] = set()
    grew = True
    while grew:
        grew = False
        for i, (_chunk, names) in enumerate(candidates):
            used = kept + "".join(candidates[j][0] for j in sorted(chosen))
            if i not in chosen and _referenced(names, used):
                chosen.add(i)
                grew = True
    return kept + "".join(candidates[i][0] for i in sorted(chosen))


def _continuation(stub: str, text: str) -> str:
    """Stub + the continuation cut at its first top-level statement, keeping used helpers."""
    lines = text.splitlines(keepends=True)
    first = [] if stub.endswith("\n") or not lines else [lines.pop(0)]
    head, chunks = _chunks(lines)
    defined = {
        n
        for c in _chunks(stub.splitlines(keepends=True))[1]
        for n in (_chunk_names(c) or ("", []))[1]
    }
    return _with_helpers(stub + "".join(first) + head, chunks, skip=defined).rstrip() + "\n"


def _with_stub_context(code: str, stub: str | None) -> str:
    """Prepend the stub's imports and helper definitions that `code` uses but lacks."""
    if not stub:
        return code
    prelude = []
    for chunk in _chunks(stub.splitlines(keepends=True))[1]:
        named = _chunk_names(chunk)
        if named is None:
            continue
        kind, names = named
        lacking = kind == "import" or not any(_defines(code, n) for n in names)
        if lacking and _referenced(names, code) and chunk.strip() not in code:
            prelude.append(chunk if chunk.endswith("\n") else chunk + "\n")
    return "".join(prelude) + code


_GOES_ON = "\n    _cut_here = 0\n"  # an indented line: it continues any body or fence it ends in


def finished_before_cut(text: str, *, stub: str | None, entry_point: str | None) -> bool:
    """Whether a reply cut off at its token limit had already finished the program
    `extract_code` takes from it: the program is the same when the reply is taken to go on
    where it stopped (an indented line would join a body or an open fence the cut fell in),
    it parses, it defines the entry point, and the reply wrote some of it (a stub with a
    docstring parses alone: a reply cut in its prose or its thinking adds nothing to it)."""
    program = extract_code(text, stub=stub, entry_point=entry_point)
    if entry_point is not None and not _defines(program, entry_point):
        return False
    if program == extract_code("", stub=stub, entry_point=entry_point):
        return False
    try:
        ast.parse(program)
    except (SyntaxError, ValueError):  # a stub with no body yet, a NUL byte
        return False
    return program == extract_code(text + _GOES_ON, stub=stub, entry_point=entry_point)


def extract_code(text: str, *, stub: str | None, entry_point: str | None) -> str:
    """The whole program to test from one candidate.

    A chat reply: the last python fence that defines `entry_point`, else the last python
    fence, with the stub's imports and helpers it relies on prepended. A base model's raw
    continuation of `stub` (its first line indented): stub + body, cut at the first top-level
    statement that is not a definition or import the solution uses (`def check`, `if
    __name__`, `print(…)`, other functions…). Otherwise the text itself.
    """
    text = without_thinking(text)
    fences = [body for info, body in _fences(text) if info.split(" ")[0] in _PYTHON_INFO]
    named = [f for f in fences if entry_point and _defines(f, entry_point)]
    if named:
        return _with_stub_context(named[-1], stub)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    is_full = entry_point is not None and _defines(text, entry_point)
    if stub and not is_full and (first_line[:1] in (" ", "\t") or not fences):
        return _continuation(stub, text)
    if fences:
        return _with_stub_context(fences[-1], stub)
    if is_full and entry_point is not None:
        lines = text.splitlines(keepends=True)
        start = next(i for i, line in enumerate(lines) if _defines(line, entry_point))
        head, chunks = _chunks(lines[start:])
        kept = "".join(lines[:start]) + head + (chunks[0] if chunks else "")
        return _with_stub_context(_with_helpers(kept, chunks[1:], skip={entry_point}), stub)
    return text
