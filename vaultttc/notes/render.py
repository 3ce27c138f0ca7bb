"""Jinja2 templates: answer callouts, changelog rows and new notes.

The package's templates (`templates/` in the repo, `vaultttc/templates/` in the wheel) can be
overridden per vault by files of the same name in `.vaultttc/templates/`. Rendering is pure
given the loaded templates; loading reads files once, at construction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from vaultttc.errors import ConfigError

__all__ = ["Templates", "package_templates"]


def package_templates() -> Path:
    """Where the shipped templates are: inside the wheel, or the repo's top-level folder."""
    package = Path(__file__).resolve().parents[1]
    wheel = package / "templates"
    return wheel if wheel.is_dir() else package.parent / "templates"


def _yaml_str(value: object) -> str:
    """A double-quoted YAML scalar that keeps non-ASCII text readable."""
    return json.dumps(str(value), ensure_ascii=False)


def _quote(text: object) -> str:
    """Every line of `text` inside a callout: `> line`, and a bare `>` for blank lines."""
    lines = str(text).strip("\n").split("\n")
    return "\n".join(f"> {line}".rstrip() if line.strip() else ">" for line in lines)


class Templates:
    def __init__(self, vault_root: Path | None = None) -> None:
        search = [str(package_templates())]
        if vault_root is not None:
            search.insert(0, str(vault_root / ".vaultttc" / "templates"))
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self._env.filters["yaml_str"] = _yaml_str
        self._env.filters["quote"] = _quote

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        try:
            template = self._env.get_template(name)
        except jinja2.TemplateNotFound:
            where = f".vaultttc/templates/ or {package_templates()}"
            raise ConfigError(f"no template {name!r} in {where}") from None
        try:
            return template.render(**context).rstrip("\n")
        except jinja2.TemplateError as exc:
            raise ConfigError(f"template {name}: {exc}") from None

    def answer(self, context: Mapping[str, Any]) -> str:
        return self.render("answer.md.j2", context)

    def changelog_row(self, cells: Sequence[str]) -> str:
        return self.render("changelog_row.md.j2", {"cells": list(cells)})

    def changelog_table(self, columns: Sequence[str], row: str) -> str:
        return self.render("changelog_table.md.j2", {"columns": list(columns), "row": row})

    def changelog_heading(self) -> str:
        return self.render("changelog_heading.md.j2", {})

    def new_note(self, name: str, context: Mapping[str, Any]) -> str:
        return self.render(f"{name}.md.j2", context)
