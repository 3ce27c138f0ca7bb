"""Random notes for the fuzzer, and the properties every note must keep (tests and bench share it).

The generators cover what real vaults hold: frontmatter with owned keys, mixed line endings,
a BOM, tabs, CJK and emoji, callouts (question/faq/help, nested, folded, in list items),
fences (``` and ~~~, in lists and callouts), `%% %%` comments, tables and changelog sections.
`check(text)` runs the properties: parsing raises nothing but a `NoteError`; a write-back
answering every question applied twice equals once; every answer is attached to its question;
and `clean` takes the result back to the input byte for byte (so no byte vaultttc does not own
ever changed).
"""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from vaultttc.engine.tasks import Outcome
from vaultttc.errors import NoteError
from vaultttc.notes.clean import clean_text
from vaultttc.notes.compose import Answered, compose
from vaultttc.notes.edits import rewrite
from vaultttc.notes.model import Note
from vaultttc.notes.parse import parse_note
from vaultttc.notes.render import Templates

TEMPLATES = Templates()
WORDS = ["alpha", "beta", "빠른", "답", "😀", "x\ty", "naïve", "日本語", "|", "::", "#", ">"]
text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)


def _frontmatter() -> st.SearchStrategy[str]:
    key = st.sampled_from(["title", "tags", "confidence_score", "verification_status",
                           "last_reinforced", "status", "created"])  # fmt: skip
    value = st.sampled_from(["0.5", "verified", "2024-01-01", '"quoted"', "[a, b]", "x  # note",
                             "{{date}}", "빠른"])  # fmt: skip
    line = st.tuples(key, value).map(lambda kv: f"{kv[0]}: {kv[1]}")
    return st.lists(line, max_size=5, unique_by=lambda s: s.split(":")[0]).map(
        lambda lines: "---\n" + "".join(f"{x}\n" for x in lines) + "---\n"
    )


def _callout(depth: int) -> st.SearchStrategy[str]:
    kind = st.sampled_from(["question", "faq", "help", "note", "QUESTION", "tip"])
    fold = st.sampled_from(["", "-", "+"])
    field = st.sampled_from(["", "expect:: 42\n", "samples:: 2\n", "strategy:: direct\n"])
    body = st.sampled_from(
        ["", "the author's answer\n", "> nested line\n", "```python\nx = 1\n```\n"]
    )

    def build(parts: tuple[str, str, str, str, str]) -> str:
        k, f, title, fld, b = parts
        quote = "> " * depth
        lines = [f"[!{k}]{f} {title}", *fld.splitlines(), *b.splitlines()]
        return "".join(f"{quote}{line}\n" for line in lines)

    return st.tuples(kind, fold, text, field, body).map(build)


def _fence() -> st.SearchStrategy[str]:
    mark = st.sampled_from(["```", "~~~"])
    lang = st.sampled_from(["python", "js", "", "python test", "output"])
    where = st.sampled_from(["", "- ", "> "])
    return st.tuples(mark, lang, where, text).map(
        lambda p: f"{p[2]}{p[0]}{p[1]}\n{p[2]}{p[3]}\n{p[2]}{p[0]}\n"
    )


def _in_list(block: str) -> str:
    """A block as a list item's content: the marker on its first line, the rest indented."""
    first, *rest = block.splitlines()
    return "".join([f"- {first}\n", *(f"  {line}\n" for line in rest)])


block = st.one_of(
    text.map(lambda t: t + "\n"),
    text.map(lambda t: f"## {t}\n"),
    _callout(1),
    _callout(2).map(lambda c: "> [!note] outer\n" + c),
    _callout(1).map(_in_list),
    _fence(),
    text.map(lambda t: f"%%\n{t}\n%%\n"),
    st.just("| a | b |\n|---|---|\n| 1 | 2 |\n"),
    st.just("## 🕓 Changelog\n\n| 날짜 | 변경 |\n|---|---|\n| 2026-01-01 | 작성 |\n"),
    st.just("## Changelog\nkept by hand\n"),
)


@st.composite
def notes(draw: st.DrawFn) -> str:
    front = draw(st.one_of(st.just(""), _frontmatter()))
    blocks = draw(st.lists(block, max_size=8))
    body = front + "\n".join(blocks)
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    body = body.replace("\n", newline)
    if draw(st.booleans()):
        body = body.rstrip("\r\n")
    return ("\ufeff" if draw(st.booleans()) else "") + body


def _outcome(note: Note, qid: str) -> Outcome:
    return Outcome(task_id=qid, answer="42 — the answer", status="consensus", confidence=0.8,
                   strategy="direct", evidence="vote", samples_used=1)  # fmt: skip


def check(raw: str) -> None:
    """The properties; raises AssertionError on a violation."""
    try:
        note = parse_note(raw, "fuzz.md")
    except NoteError:
        return
    asked = [q for q in note.questions if not q.authored]
    answered = {q.id: Answered(q.hash, "h" + q.hash[:6], _outcome(note, q.id)) for q in asked}
    writeback = compose(note, answered, templates=TEMPLATES, today=date(2026, 12, 1))
    once = rewrite(note, writeback, templates=TEMPLATES) or note.text
    again_note = parse_note(once, "fuzz.md")
    twice = rewrite(again_note, writeback, templates=TEMPLATES) or once
    assert twice == once, "applying the write-back twice differs from once"
    by_id = {q.id: q for q in again_note.questions}
    for q in asked:
        region = by_id[q.id].answer
        assert region is not None and region.id == q.id, f"answer not attached to {q.id}"
    if asked:
        cleaned = clean_text(again_note)
        assert (cleaned if cleaned is not None else once) == note.text, "clean is not the inverse"
