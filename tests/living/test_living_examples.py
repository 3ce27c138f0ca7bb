"""The example runner without pytest in the middle: output matching, the names an example binds,
the child's environment, and that a timed-out note leaves no process behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultttc.living import examples
from vaultttc.living.examples import ExampleOptions, run_examples
from vaultttc.living.outputs import bound_names, output_diff
from vaultttc.notes.parse import parse_note


def test_output_ignores_trailing_whitespace_and_blank_lines() -> None:
    assert output_diff("a\nb\n", "a  \nb\t\n\n\n", ellipsis=False, label="x.md:3") is None
    assert output_diff("a\r\nb\r\n", "a\nb\n", ellipsis=False, label="x.md:3") is None
    assert output_diff("", "", ellipsis=False, label="x.md:3") is None


def test_output_mismatch_is_a_unified_diff() -> None:
    diff = output_diff("a\nb\n", "a\nc\n", ellipsis=False, label="x.md:3")
    assert diff == "--- expected (x.md:3)\n+++ actual stdout\n@@ -1,2 +1,2 @@\n a\n-b\n+c"
    assert output_diff("a\n", "", ellipsis=False, label="x.md:3") is not None
    assert output_diff("", "a\n", ellipsis=False, label="x.md:3") is not None


def test_ellipsis_matches_only_when_asked() -> None:
    expected = "id <object at ...>\ndone\n"
    actual = "id <object at 0x7f12>\ndone\n"
    assert output_diff(expected, actual, ellipsis=True, label="x") is None
    assert output_diff(expected, actual, ellipsis=False, label="x") is not None
    assert output_diff(expected, "id <list at 0x7f12>\ndone\n", ellipsis=True, label="x")
    assert output_diff("True\n", "1\n", ellipsis=True, label="x") is not None


def test_bound_names_are_module_level_bindings() -> None:
    code = (
        "import os.path\nfrom json import loads as parse\nx, (y, *z) = 1, (2, 3)\n"
        "def f(a):\n    local = a\nclass C:\n    attr = 1\nfor i in range(2):\n    pass\n"
        "with open('f') as handle:\n    pass\ntry:\n    pass\nexcept OSError as err:\n    pass\n"
        "squares = [k * k for k in range(3)]\nif (n := 3):\n    total: int = n\n"
    )
    assert bound_names(code) == {
        "os", "parse", "x", "y", "z", "f", "C", "i", "handle", "err", "squares", "n", "total",
    }  # fmt: skip
    assert bound_names("def broken(:\n") == frozenset()


def _running(needle: str) -> list[str]:
    """Pids of live (not zombie) processes whose command line contains `needle`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "status").read_text()
        except OSError:
            continue
        if needle in cmdline and "State:\tZ" not in state:
            found.append(proc.name)
    return found


def test_a_timeout_kills_everything_the_note_started() -> None:
    text = (
        "---\ntech_stack:\n  language: bash\n---\n\n"
        "```bash\nsleep 61.2345 &\nsleep 61.2345\n```\n\n```bash\necho later\n```\n"
    )
    note = parse_note(text, "hang.md")
    report = run_examples(note, allowed=True, options=ExampleOptions(timeout_s=1))
    assert [r.status for r in report.results] == ["failed", "not run"]
    assert report.results[0].message.startswith("timed out after 1 s")
    assert report.first_failure is report.results[0]
    assert _running("61.2345") == []


def test_without_consent_no_process_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    real = examples.run_child
    monkeypatch.setattr(examples, "run_child", lambda *a, **k: started.append(a) or real(*a, **k))
    note = parse_note("```python\nprint('ran')\n```\n\n```output\nran\n```\n", "n.md")
    report = run_examples(note, allowed=False)
    assert [r.status for r in report.results] == ["skipped"]
    assert report.results[0].message.startswith("execution not allowed")
    assert not started and not report.all_passed
    assert run_examples(note, allowed=True).all_passed and len(started) == 1


def test_the_child_runs_python_in_isolated_mode() -> None:
    note = parse_note("```python\nimport sys\nprint(sys.flags.isolated)\n```\n\n"
                      "```output\n1\n```\n", "iso.md")  # fmt: skip
    assert run_examples(note, allowed=True).all_passed
