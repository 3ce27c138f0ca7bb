"""Living documentation, data-driven: each `tests/data/living/NAME.md` runs through the pytest
plugin (in-process, with pytester) and its items' outcomes must equal `NAME.expected`.

An expected file holds `args:` (pytest options), optional `env:` (variables set while it runs),
then one line per item in document order, `line N: STATUS[: MESSAGE]` (`{path}` is the note as
the user sees it), each optionally followed by `  contains: TEXT` lines that must appear in that
item's report. A note may say `{tmp}` for the test's own directory; a `NAME.vault/` folder
holds more files of the vault (a `.vaultttc/setup.md`). The note must be unchanged afterwards,
or equal `NAME.after` when that file exists (`--vault-update`).
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import DATA

from vaultttc.living import examples
from vaultttc.sandbox.parent import SandboxResult

pytest_plugins = ["pytester"]

LIVING = DATA / "living"
CASES = sorted(LIVING.glob("*.md"))
# Unrelated plugins re-import their packages in every in-process run; leave them out.
QUIET = ("-p", "no:hypothesispytest", "-p", "no:anyio")


@dataclass
class Expected:
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    contains: dict[str, list[str]] = field(default_factory=dict)


def read_expected(path: Path, display: str) -> Expected:
    expected = Expected()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.replace("{path}", display)
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("args:"):
            expected.args = shlex.split(line.removeprefix("args:"))
        elif line.startswith("env:"):
            expected.env = dict(p.split("=", 1) for p in line.removeprefix("env:").split())
        elif line.startswith("  contains: "):
            item = expected.lines[-1].split(":", 1)[0]
            expected.contains.setdefault(item, []).append(line.removeprefix("  contains: "))
        else:
            expected.lines.append(line)
    return expected


def install(note: Path, pytester: pytest.Pytester) -> Path:
    """Copy the note into a fresh vault, byte for byte apart from the `{tmp}` placeholder;
    the files of a `NAME.vault/` folder beside it (e.g. `.vaultttc/setup.md`) go in too."""
    extra = note.with_suffix(".vault")
    vault = pytester.mkdir("vault")
    if extra.is_dir():
        shutil.copytree(extra, vault, dirs_exist_ok=True)
    data = note.read_bytes().replace(b"{tmp}", str(pytester.path).encode())
    (vault / note.name).write_bytes(data)
    return vault


def outcomes(reprec: pytest.HookRecorder) -> tuple[list[str], dict[str, str]]:
    """`line N: status: message` per item, and each item's full report text."""
    lines: list[str] = []
    texts: dict[str, str] = {}
    for rep in reprec.getreports("pytest_runtest_logreport"):
        if not (rep.when == "call" or (rep.when == "setup" and not rep.passed)):
            continue
        name = rep.nodeid.split("::")[-1]
        if rep.passed:
            lines.append(f"{name}: passed")
        elif rep.skipped:
            assert isinstance(rep.longrepr, tuple)
            lines.append(f"{name}: skipped: {rep.longrepr[2].removeprefix('Skipped: ')}")
        else:
            text = str(rep.longrepr)
            texts[name] = text
            lines.append(f"{name}: failed: {text.splitlines()[0]}")
    return lines, texts


@pytest.mark.parametrize("note", CASES, ids=[c.stem for c in CASES])
def test_note_outcomes(
    note: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = install(note, pytester)
    expected = read_expected(note.with_suffix(".expected"), f"vault/{note.name}")
    for name, value in expected.env.items():
        monkeypatch.setenv(name, value)
    reprec = pytester.inline_run(*QUIET, "--vault", str(vault), *expected.args)
    lines, texts = outcomes(reprec)
    assert lines == expected.lines
    for item, needles in expected.contains.items():
        for needle in needles:
            assert needle in texts[item], f"{item}: {needle!r} not in\n{texts[item]}"
    after = note.with_suffix(".after")
    want = (after if after.exists() else note).read_bytes()
    written = (vault / note.name).read_bytes()
    assert written == want.replace(b"{tmp}", str(pytester.path).encode())


@pytest.fixture
def spawns(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every sandboxed process the example runner starts (it still starts them for real)."""
    started: list[list[str]] = []
    real = examples.run_child

    def spy(argv: list[str], **kwargs: Any) -> SandboxResult:
        started.append(argv)
        return real(argv, **kwargs)

    monkeypatch.setattr(examples, "run_child", spy)
    return started


def test_without_consent_nothing_runs(pytester: pytest.Pytester, spawns: list[list[str]]) -> None:
    vault = install(LIVING / "noconsent.md", pytester)
    pytester.inline_run(*QUIET, "--vault", str(vault)).assertoutcome(skipped=2)
    assert spawns == []
    assert not (pytester.path / "side-effect.txt").exists()
    allowed = pytester.inline_run(*QUIET, "--vault", str(vault), "--allow-exec")
    allowed.assertoutcome(passed=1, skipped=1)
    assert len(spawns) == 1


def test_vault_config_gives_consent(pytester: pytest.Pytester, spawns: list[list[str]]) -> None:
    vault = install(LIVING / "noconsent.md", pytester)
    (vault / ".vaultttc").mkdir()
    (vault / ".vaultttc" / "config.toml").write_text("execute = false\n")
    pytester.inline_run(*QUIET, "--vault", str(vault)).assertoutcome(skipped=2)
    assert spawns == []
    (vault / ".vaultttc" / "config.toml").write_text("execute = true\n")
    pytester.inline_run(*QUIET, "--vault", str(vault)).assertoutcome(passed=1, skipped=1)
    assert len(spawns) == 1
