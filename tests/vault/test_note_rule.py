"""One rule for which files are notes, shared by scan, run, the daemon and the pytest plugin.

The bug this guards: `vaultttc run VAULT/wiki` read notes under an excluded `wiki/Archive`
that `scan` and the daemon skipped, because each walked with exclusions relative to where it
started rather than to the vault.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultttc.cli.main import cli
from vaultttc.vault.files import iter_notes
from vaultttc.vault.rule import NoteRule
from vaultttc.watch.events import survey
from vaultttc.watch.schedule import classify

QUESTION = "> [!question] What is 2 plus 3?\n> expect:: 5\n"
NO_KEYS = {k: None for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")}


@pytest.mark.parametrize(
    ("rel", "note"),
    [
        ("a.md", True),
        ("wiki/a.md", True),
        ("wiki/Archive/a.md", False),
        ("wiki/Archive", False),
        ("wiki/Archived/a.md", True),
        ("Templates/t.md", False),
        (".obsidian/a.md", False),
        ("x/.trash/a.md", False),
        (".vaultttc/setup.md", False),
        ("wiki/.#a.md", False),
        ("wiki/.a.md.abc123.vaultttc-tmp", False),
        ("wiki/a.md~", False),
        ("a.txt", False),
        ("../a.md", False),
    ],
)
def test_the_rule_says_which_paths_are_notes(rel: str, note: bool) -> None:
    assert NoteRule(("wiki/Archive", "Templates/")).is_note(rel) is note


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / ".vaultttc").mkdir(parents=True)
    (root / ".vaultttc" / "config.toml").write_text('exclude = ["wiki/Archive"]\n')
    for rel in ("top.md", "wiki/live.md", "wiki/Archive/old.md", "wiki/.hidden/h.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n\n{QUESTION}")
    os.mkfifo(root / "wiki" / "pipe.md")  # reading it would hang the walk's consumers
    return root


def test_every_walker_skips_an_excluded_folder_from_any_starting_folder(vault: Path) -> None:
    from_root = [
        p.relative_to(vault).as_posix() for p in iter_notes(vault, exclude=("wiki/Archive",))
    ]
    from_wiki = [
        p.relative_to(vault).as_posix()
        for p in iter_notes(vault, vault / "wiki", exclude=("wiki/Archive",))
    ]
    assert from_root == ["top.md", "wiki/live.md"]
    assert from_wiki == ["wiki/live.md"]
    assert sorted(survey(vault, {}, exclude=("wiki/Archive",)).changed) == from_root
    assert classify("modified", "wiki/Archive/old.md", exclude=("wiki/Archive",)) == []


def test_run_on_a_subfolder_leaves_its_excluded_folder_alone(vault: Path, tmp_path: Path) -> None:
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"question": "What is 2 plus 3?", "samples": ["5"] * 8}) + "\n")
    archived = (vault / "wiki/Archive/old.md").read_bytes()
    result = CliRunner(env=NO_KEYS).invoke(
        cli,
        ["run", str(vault / "wiki"), "--provider", f"replay:{replay}", "--json"],
        catch_exceptions=False,
    )
    report = json.loads(result.stdout)
    assert [Path(n["path"]).name for n in report["notes"]] == ["live.md"]
    assert (vault / "wiki/Archive/old.md").read_bytes() == archived
    assert "vaultttc:begin" in (vault / "wiki/live.md").read_text()


def test_scan_of_a_subfolder_sees_the_same_notes_as_run(vault: Path) -> None:
    result = CliRunner(env=NO_KEYS).invoke(
        cli, ["scan", str(vault / "wiki"), "--json"], catch_exceptions=False
    )
    assert [Path(n["path"]).name for n in json.loads(result.stdout)["notes"]] == ["live.md"]


def test_a_note_linked_from_outside_the_vault_is_an_error_and_is_not_written(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "elsewhere.md"
    outside.write_text(QUESTION)
    vault = tmp_path / "vault"
    (vault / ".vaultttc").mkdir(parents=True)
    (vault / "link.md").symlink_to(outside)
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"question": "What is 2 plus 3?", "samples": ["5"]}) + "\n")
    result = CliRunner(env=NO_KEYS).invoke(
        cli, ["run", str(vault / "link.md"), "--provider", f"replay:{replay}"],
        catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 2 and "points outside the vault" in result.stderr
    assert outside.read_text() == QUESTION


def test_a_symlink_loop_is_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "loop.md").symlink_to(tmp_path / "loop.md")
    (tmp_path / "n.md").write_text("# N\n")
    assert [p.name for p in iter_notes(tmp_path)] == ["n.md"]
