"""`vaultttc.base`: an Obsidian Bases file listing the vault's notes by what vaultttc wrote.

Only keys Obsidian documents for the `.base` YAML (help.obsidian.md, "Bases syntax"): at the
top `filters`, `formulas`, `properties`, `views`; in a view `type`, `name`, `filters`,
`order`, `sort` (`property`, `direction`), `groupBy` (`property`, `direction`) and `limit`.
Filters and formulas use Bases' expression language (`file.inFolder()`, `isEmpty()`,
`toFixed()`). Pure: `base_yaml()` is text; dashboard writes it.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["BASE_FILE", "base_document", "base_yaml"]

BASE_FILE = "vaultttc.base"
_COLUMNS = ["file.name", "verification_status", "formula.confidence", "last_reinforced",
            "file.folder"]  # fmt: skip


def _view(name: str, *, sort: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {"type": "table", "name": name}
    view.update({k: v for k, v in extra.items() if k != "limit"})
    view["order"] = list(_COLUMNS)
    view["sort"] = [{"property": p, "direction": d} for p, d in sort]
    if "limit" in extra:
        view["limit"] = extra["limit"]
    return view


def base_document() -> dict[str, Any]:
    attention = 'verification_status == "failed" || verification_status == "disputed" || ' \
        'verification_status == "stale"'  # fmt: skip
    return {
        "filters": {
            "and": [
                "!verification_status.isEmpty()",
                'file.ext == "md"',
                {"not": ['file.inFolder("vaultttc")']},
            ]
        },
        "formulas": {
            "confidence": 'if(confidence_score, (confidence_score * 100).toFixed(0) + "%", "")',
        },
        "properties": {
            "verification_status": {"displayName": "Status"},
            "formula.confidence": {"displayName": "Confidence"},
            "last_reinforced": {"displayName": "Last reinforced"},
        },
        "views": [
            _view(
                "By verification status",
                sort=[("confidence_score", "ASC")],
                groupBy={"property": "verification_status", "direction": "ASC"},
            ),
            _view("Lowest confidence", sort=[("confidence_score", "ASC")], limit=50),
            _view("Least recently reinforced", sort=[("last_reinforced", "ASC")], limit=50),
            _view("Needs attention", sort=[("last_reinforced", "ASC")], filters=attention),
        ],
    }


def base_yaml() -> str:
    head = "# Written by `vaultttc dashboard`; rewritten by each run of it.\n"
    return head + yaml.safe_dump(base_document(), sort_keys=False, allow_unicode=True, width=1000)
