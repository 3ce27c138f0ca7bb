"""The README's promises: CI runs exactly its test command, and every command it shows exists."""

from __future__ import annotations

import re
import shlex

import click
import pytest
from helpers import REPO

from vaultttc.cli.main import cli

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)


def _commands() -> list[str]:
    lines = [line.strip() for block in BLOCKS for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line and not line.startswith(("#", "set ", "cd "))]  # fmt: skip
    install_and_test = [c for c in _commands() if c.endswith("&& pytest")]
    assert install_and_test == ci


def test_the_first_command_installs_the_embedded_model_and_runs_the_example_vault() -> None:
    first = _commands()[0]
    assert "pip install -e '.[local]'" in first
    assert "vaultttc run vault_example --provider local" in first


def _vaultttc_invocations() -> list[list[str]]:
    found = []
    for command in _commands():
        for part in re.split(r"&&|;|\|", command):
            words = shlex.split(part, comments=True)
            while words and "=" in words[0]:  # VAR=value prefixes
                words.pop(0)
            if words and words[0] == "vaultttc":
                found.append(words[1:])
    return found


@pytest.mark.parametrize("argv", _vaultttc_invocations(), ids=" ".join)
def test_every_vaultttc_command_in_the_readme_parses(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its options and arguments are accepted as written (parsed and validated, not run)."""
    monkeypatch.chdir(REPO)
    with click.Context(cli) as root:
        command = cli.get_command(root, argv[0])
    assert command is not None, f"README shows unknown command {argv[0]!r}"
    with command.make_context(argv[0], argv[1:]) as ctx:
        assert ctx.command is command


def test_the_readmes_check_examples_are_questions_of_the_example_vault() -> None:
    examples = [
        block
        for block in re.findall(r"````markdown\n(.*?)````", README, re.DOTALL)
        if "```python check\n" in block
    ]
    vault = [p.read_text(encoding="utf-8") for p in (REPO / "vault_example").rglob("*.md")]
    assert len(examples) == 2
    for example in examples:
        assert any(example in note for note in vault), example.splitlines()[0]
