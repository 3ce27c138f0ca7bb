"""The note model: blocks and their exact lines, ids, and clear errors for bad notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultttc.errors import NoteError
from vaultttc.notes.model import Note
from vaultttc.notes.parse import parse_note
from vaultttc.vault.files import decode

BAD = Path(__file__).parent / "data" / "bad"


def parse(text: str) -> Note:
    return parse_note(text, "n.md")


@pytest.mark.parametrize(
    "head",
    [
        "> [!question] Q?",
        "> [!QUESTION] Q?",
        "> [!Question]+ Q?",
        "> [!question]- Q?",
        ">[!question] Q?",
        "> [!question]-Q?",
    ],
)
def test_question_callout_variants_are_found(head: str) -> None:
    note = parse(f"# T\n\n{head}\n> expect:: 1\n")
    [question] = note.questions
    assert question.title == "Q?"
    assert question.fields == {"expect": "1"}
    assert (question.span.first_line, question.span.last_line) == (3, 4)


def test_other_callouts_and_plain_quotes_are_not_questions() -> None:
    note = parse("> [!note] Q?\n\n> just a quote [!question]\n\n> [!questions] no\n")
    assert note.questions == ()


def test_question_nested_in_a_callout_keeps_its_container_prefix() -> None:
    note = parse("> [!tip] Outer\n> text\n>\n> > [!question] Inner?\n> > samples:: 4\n")
    [question] = note.questions
    assert question.title == "Inner?"
    assert question.fields == {"samples": "4"}
    assert question.prefix == "> "
    assert question.span.first_line == 4


def test_fields_are_dataview_lines_and_the_rest_is_body() -> None:
    note = parse("> [!question] Title\n> Some context\n> verify:: numeric\n> more context\n")
    [question] = note.questions
    assert question.body == "Some context\nmore context"
    assert question.fields == {"verify": "numeric"}


def test_code_task_is_question_then_stub_then_optional_test_fence() -> None:
    text = (
        "---\ntech_stack:\n  language: Python\n---\n"
        "> [!question] Implement f\n\n```python\ndef f(): ...\n```\n\n"
        "```python test\nassert f() is None\n```\n\n```python\nprint('example')\n```\n"
    )
    note = parse(text)
    [task] = note.questions
    assert task.kind == "code"
    assert task.stub is not None and task.stub.code == "def f(): ...\n"
    assert task.test is not None and task.test.code_line + 1 == 12
    assert (task.span.first_line, task.span.last_line) == (5, 13)
    [example] = note.examples
    assert example.line == 16


def test_a_fence_in_another_language_does_not_make_a_code_task() -> None:
    note = parse("> [!question] Q\n\n```rust\nfn f() {}\n```\n")
    assert note.questions[0].kind == "question"


def test_examples_in_lists_callouts_and_tilde_fences() -> None:
    text = (
        "- item\n  ```python\n  a = 1\n  ```\n\n"
        "> [!example]\n> ~~~python\n> print(a)\n> ~~~\n> ```output\n> 1\n> ```\n\n"
        "~~~py\nb = 2\n~~~\n"
    )
    note = parse(text)
    assert [(e.line, e.fence.code) for e in note.examples] == [
        (3, "a = 1\n"),
        (8, "print(a)\n"),
        (15, "b = 2\n"),
    ]
    assert note.examples[1].output is not None
    assert note.examples[1].output.code == "1\n"


def test_fences_inside_obsidian_comments_are_not_blocks() -> None:
    text = "%%\n```python\nhidden()\n```\n%%\n\n%% inline comment %%\n\n```python\nshown()\n```\n"
    note = parse(text)
    assert [e.fence.code for e in note.examples] == ["shown()\n"]


def test_skip_markers() -> None:
    text = "```python skip\na()\n```\n\n%% vaultttc: skip needs network %%\n```python\nb()\n```\n"
    note = parse(text)
    assert [e.skip for e in note.examples] == ["skip in the fence's info string", "needs network"]


def test_examples_use_the_notes_language() -> None:
    text = "---\ntech_stack:\n  language: Bash\n---\n```bash\necho hi\n```\n```python\nx\n```\n"
    note = parse(text)
    assert note.language == "bash"
    assert [e.fence.lang for e in note.examples] == ["bash"]


def test_changelog_section_and_columns() -> None:
    text = (
        "# T\n\n## 🕓 Changelog\n\n| 날짜 | 변경 |\n|---|---|\n| 2026-05-08 | Phase 1 |\n"
        "\n## Next\n"
    )
    log = parse(text).changelog
    assert log is not None
    assert log.columns == ("날짜", "변경")
    assert log.insert_at == 7
    assert log.heading.first_line == 3


def test_answer_region_belongs_to_the_block_before_it() -> None:
    text = (
        "> [!question] Q\n> expect:: 1\n\n%% vaultttc:begin id=q-old hash=abc %%\n"
        "> [!success]- ok\n> 1\n%% vaultttc:end %%\n"
    )
    [question] = parse(text).questions
    assert question.answer is not None
    assert (question.answer.id, question.answer.hash) == ("q-old", "abc")
    assert (question.answer.span.first_line, question.answer.span.last_line) == (4, 7)
    assert question.answer.span.start >= question.span.end


def test_answer_fences_are_not_examples() -> None:
    text = (
        "> [!question] Q\n\n%% vaultttc:begin id=q hash=h %%\n> [!success]- ok\n"
        "> ```python\n> x = 1\n> ```\n%% vaultttc:end %%\n"
    )
    assert parse(text).examples == ()


def test_question_ids_are_stable_across_edits_elsewhere_and_unique() -> None:
    one = parse("# A\n\n> [!question] Same?\n\n> [!question] Same?\n> id:: mine\n")
    two = parse(
        "# A changed\n\nnew prose\n\n> [!question] Same?\n\n> [!question] Same?\n> id:: mine\n"
    )
    assert [q.id for q in one.questions] == [q.id for q in two.questions]
    assert one.questions[1].id == "mine"
    three = parse("> [!question] Same?\n\n> [!question] Same?\n")
    assert len({q.id for q in three.questions}) == 2


def test_question_hash_changes_with_the_question_only() -> None:
    base = parse("# A\n\n> [!question] Q?\n> expect:: 1\n").questions[0].hash
    assert parse("# B\n\n> [!question] Q?\n> expect:: 1\n").questions[0].hash == base
    assert parse("# A\n\n> [!question] Q?\n> expect:: 2\n").questions[0].hash != base


def test_frontmatter_key_spans_and_template_placeholders() -> None:
    text = "---\ntitle: t\ntags:\n  - a\n  - b\n\ncreated: {{date}}\n---\n"
    note = parse(text)
    assert note.frontmatter is not None
    spans = {k.name: (k.span.first_line, k.span.last_line) for k in note.frontmatter.keys}
    assert spans == {"title": (2, 2), "tags": (3, 5), "created": (7, 7)}
    assert note.frontmatter.data["created"] == "{{date}}"


BAD_CASES = {
    "unclosed-frontmatter.md": (1, "never closed"),
    "malformed-yaml.md": (3, "malformed frontmatter"),
    "frontmatter-not-mapping.md": (2, "not a mapping"),
    "not-utf8.md": (4, "not valid UTF-8"),
    "binary.md": (0, "binary file"),
    "unclosed-fence.md": (5, "unclosed code fence"),
    "answer-without-end.md": (5, "no `%% vaultttc:end %%`"),
    "unknown-field.md": (7, "unknown question field `strategey::`"),
}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_notes_get_one_line_errors_naming_file_and_line(name: str) -> None:
    line, words = BAD_CASES[name]
    with pytest.raises(NoteError) as info:
        parse_note(decode((BAD / name).read_bytes(), name), name)
    error = info.value
    assert (error.path, error.line) == (name, line)
    assert words in str(error)
    assert "\n" not in str(error)
    assert str(error).startswith(f"{name}:{line}: " if line else f"{name}: ")


def test_every_bad_case_is_covered() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(BAD_CASES)


def test_code_inside_a_question_callout_is_not_read_as_fields() -> None:
    text = (
        "> [!question] What does this print?\n> ```cpp\n> std::cout << 6 * 7;\n"
        "> Foo::new();\n> ```\n> expect:: 42\n"
    )
    [question] = parse(text).questions
    assert question.fields == {"expect": "42"}
    assert "std::cout << 6 * 7;" in question.body
