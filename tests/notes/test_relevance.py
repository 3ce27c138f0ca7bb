"""The block pass's prefilter (`notes.relevance`) never changes a note: every corpus note, the
seed, the example vault and fuzzed notes parse to the same model with and without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fuzz_notes import notes as fuzzed_notes
from helpers import REPO, shared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultttc.errors import NoteError
from vaultttc.notes.model import Note
from vaultttc.notes.parse import parse_note
from vaultttc.notes.relevance import relevant_only

sys.path.insert(0, str(REPO / "bench"))
from scan import generate_vault  # bench/ is not a package


def _both(text: str, path: str = "n.md") -> tuple[Note | str, Note | str]:
    def one(prefilter: bool) -> Note | str:
        try:
            return parse_note(text, path, prefilter=prefilter)
        except NoteError as exc:
            return f"NoteError: {exc}"

    return one(True), one(False)


def _real_notes() -> list[Path]:
    roots = [shared("corpora"), shared("seed"), REPO / "vault_example", REPO / "tests" / "data"]
    return sorted(p for root in roots for p in root.rglob("*.md"))


def test_every_real_note_parses_the_same_with_the_prefilter() -> None:
    paths = _real_notes()
    assert len(paths) > 250
    blanked = 0
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        fast, full = _both(text, str(path))
        assert fast == full, path
        masked = relevant_only(text)
        blanked += bool(masked and masked.blanked)
    assert blanked > len(paths) // 3  # the prefilter does skip prose in most real notes


def test_seed_shaped_notes_parse_the_same_and_lose_their_prose(tmp_path: Path) -> None:
    for path in generate_vault(tmp_path, 60, seed=7):
        text = path.read_text(encoding="utf-8")
        fast, full = _both(text)
        assert fast == full, path
        masked = relevant_only(text)
        assert masked is not None and masked.blanked, path


_TRICKY = [
    "", "", "text", "# Changelog", "## Notes", "```", "```python", "````", "~~~", "~~~ py",
    "  ```", "   ```", "- item", "- ```python", "  - nested", "1. one", "* star", "+ plus",
    "%%", "%% comment %%", "%% vaultttc:begin id=q-1 hash=abc %%", "%% vaultttc:end %%",
    "> [!question] What is 6 times 7?", "> expect:: 42", ">", "> ```", "> %%", "<!--", "-->",
    "<div>", "</div>", "    indented code", "\tx = 1", "| a | b |", "|---|---|",
    "> [!faq]- folded", "> > [!question] nested", "```python test", "assert f(1) == 1",
    "---", "***", "text with ``` inside", "50%% off", "[!question] not quoted",
    "   # Changelog", "\xa0", "  > indented quote", "#### changelog ####", "- %% x", "` `",
    "- > [!question] In a list?", "1) > [!help] Numbered?", "* > ```", "3 > 2 holds",
]  # fmt: skip
_lines = st.lists(st.sampled_from(_TRICKY), max_size=40)
_tricky_notes = st.tuples(_lines, st.sampled_from(["\n", "\r\n", "\r"])).map(
    lambda t: t[1].join(t[0]) + t[1]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_tricky_notes, fuzzed_notes()))
def test_fuzzed_notes_parse_the_same_with_the_prefilter(text: str) -> None:
    fast, full = _both(text)
    assert fast == full


@pytest.mark.parametrize(
    "body",
    ["<div>\n\n```python\nx\n```\n</div>\n", "- item\n\n  ```python\n  x\n\n  y\n  ```\n",
     "text\n\n  %% a\n\nb %%\n"],
)  # fmt: skip
def test_what_only_a_full_pass_can_tell_is_not_chunked(body: str) -> None:
    assert relevant_only(body) is None
    fast, full = _both(body)
    assert fast == full


@pytest.mark.parametrize(
    "body",
    ["# T\n\n- > [!question] What is 6 times 7?\n\nprose\n", "para\n\n* > [!question] Q?\n",
     "x\n\n1) > [!help] Q?\n\ny\n", "* a\n* > [!question] Q?\n"],
)  # fmt: skip
def test_a_callout_in_a_list_item_is_kept(body: str) -> None:
    fast, full = _both(body)
    assert isinstance(fast, Note) and len(fast.questions) == 1
    assert fast == full
