"""What a fence's info string and the comment before it ask of an example (notes/blocks.py):
`setup`, `%% vaultttc: setup %%`, `retry:N`, `isolated`, and `pycon` transcripts in a python
note."""

from __future__ import annotations

from vaultttc.notes.parse import parse_note

NOTE = """\
```python setup
a = 1
```

%% vaultttc: setup %%
```python
b = 2
```

```python retry:3 isolated
c = 3
```

```pycon
>>> a
1
```

```python
d = 4
```
"""


def test_info_words_and_setup_comments() -> None:
    examples = parse_note(NOTE, "n.md").examples
    flags = [(e.setup, e.retry, e.isolated, e.fence.lang) for e in examples]
    assert flags == [
        (True, 0, False, "python"),
        (True, 0, False, "python"),
        (False, 3, True, "python"),
        (False, 0, False, "pycon"),
        (False, 0, False, "python"),
    ]


def test_pycon_is_not_an_example_of_other_languages() -> None:
    text = "---\ntech_stack:\n  language: Rust\n---\n" + NOTE
    assert parse_note(text, "n.md").examples == ()
