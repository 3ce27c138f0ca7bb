"""`vaultttc new`: a note in the seed's shape, rendered from a template, never overwriting.

`note_name(title)` and `render_note` are pure; `create_note` is the IO shell that finds the
vault root (for template overrides and the vault's changelog convention: the heading and
columns most of its notes use, as `vaultttc run` gives a note a new changelog; the default
`## 🕓 Changelog` with `Date | Change` in a vault that has none), picks a filename-safe name
and writes exclusively.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from pathlib import Path

import click

from vaultttc.config import load_config
from vaultttc.errors import VaultTTCError
from vaultttc.notes.edits import ChangelogEntry, ChangelogStyle, new_changelog
from vaultttc.notes.render import Templates
from vaultttc.vault.conventions import changelog_style
from vaultttc.vault.files import find_vault_root, iter_notes

__all__ = ["create_note", "new", "note_name", "slug"]

_UNSAFE = re.compile(r'[\\/:*?"<>|#^\[\]\x00-\x1f]')


def note_name(title: str) -> str:
    """A filename that is safe on every OS and in Obsidian links; keeps CJK and spaces."""
    name = _UNSAFE.sub(" ", unicodedata.normalize("NFC", title))
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        raise VaultTTCError(f"cannot make a file name from the title {title!r}")
    return name[:120] + ".md"


def slug(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).lower()
    return re.sub(r"[^\w]+", "-", text).strip("-")[:60] or "note"


def create_note(
    title: str,
    *,
    folder: Path,
    template: str = "note",
    today: Callable[[], date] = date.today,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / note_name(title)
    day, root = today(), find_vault_root(folder)
    templates = Templates(root)
    style = changelog_style(iter_notes(root, exclude=load_config(root).exclude))
    entry = ChangelogEntry(day.isoformat(), "Created with `vaultttc new`")
    changelog = new_changelog(style or ChangelogStyle(), entry, templates)
    text = templates.new_note(template, {
        "title": title, "id": f"note-{day:%Y%m%d}-{slug(title)}", "today": day.isoformat(),
        "changelog": "\n".join(changelog),
    })  # fmt: skip
    try:
        with path.open("x", encoding="utf-8", newline="") as handle:
            handle.write(text + "\n")
    except FileExistsError:
        raise VaultTTCError(f"{path}: a note with this name exists; not overwritten") from None
    return path


@click.command()
@click.argument("title")
@click.option("--template", default="note", show_default=True, help="Template name.")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
def new(title: str, template: str, folder: Path) -> None:
    """Write a new note in the seed's shape from a template."""
    path = create_note(title, folder=folder, template=template)
    click.echo(str(path))
