"""`vaultttc new` writes a note in the seed's shape whose changelog follows the vault's own
convention (as `vaultttc run` gives a note a new changelog), and never overwrites a note."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner

from vaultttc.cli.main import cli
from vaultttc.notes.parse import parse_note


def _new(folder: Path, title: str = "Retry budgets") -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["new", title, "--folder", str(folder)])
    path = folder / f"{title}.md"
    return result.exit_code, path.read_text(encoding="utf-8") if path.exists() else ""


def test_a_vault_without_changelogs_gets_the_default_one(tmp_path: Path) -> None:
    (tmp_path / "plain.md").write_text("# Plain\n\nNo changelog here.\n")
    code, text = _new(tmp_path)
    note = parse_note(text, "Retry budgets.md")
    assert code == 0 and note.changelog is not None
    assert note.changelog.columns == ("Date", "Change")
    assert "| Created with `vaultttc new` |" in text and "날짜" not in text
    assert note.frontmatter is not None and note.frontmatter.data["title"] == "Retry budgets"


def test_the_vaults_own_changelog_convention_is_kept(tmp_path: Path) -> None:
    (tmp_path / ".obsidian").mkdir()  # the vault's root: a note made in a subfolder is in it
    for i in range(3):
        (tmp_path / f"n{i}.md").write_text(
            f"# N{i}\n\n## History (changelog)\n\n| When | What | Who |\n|---|---|---|\n"
            "| 2026-01-01 | made | me |\n"
        )
    code, text = _new(tmp_path / "sub")
    note = parse_note(text, "Retry budgets.md")
    assert code == 0 and note.changelog is not None
    assert note.changelog.columns == ("When", "What", "Who")
    assert "## History (changelog)" in text
    today = date.today().isoformat()
    assert f"| {today} | Created with `vaultttc new` |  |" in text  # each cell in its column


def test_the_columns_order_is_the_vaults(tmp_path: Path) -> None:
    (tmp_path / ".obsidian").mkdir()
    (tmp_path / "n.md").write_text(
        "# N\n\n## Changelog\n\n| Change | Date |\n|---|---|\n| x | y |\n"
    )
    code, text = _new(tmp_path)
    assert code == 0 and f"| Created with `vaultttc new` | {date.today().isoformat()} |" in text


def test_an_existing_note_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "Retry budgets.md").write_text("mine\n")
    result = CliRunner().invoke(cli, ["new", "Retry budgets", "--folder", str(tmp_path)])
    assert result.exit_code != 0 and "not overwritten" in str(result.exception or result.output)
    assert (tmp_path / "Retry budgets.md").read_text() == "mine\n"
