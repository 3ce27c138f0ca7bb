"""The dashboard: the `.base` file against Obsidian's documented syntax, the types.json merge
that keeps every other key, and the report note with its pictures, on a controlled clock."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from vaultttc.config import load_config
from vaultttc.engine.runner import RunOptions
from vaultttc.errors import ConfigError
from vaultttc.vault.bases import BASE_FILE, base_yaml
from vaultttc.vault.dashboard import REPORT, write_dashboard
from vaultttc.vault.obsidian_types import register_types
from vaultttc.vault.session import RunContext, Vault, run_paths

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# help.obsidian.md, "Bases syntax" (and "Views"): the keys a .base file may hold.
TOP_KEYS = {"filters", "formulas", "properties", "summaries", "views"}
VIEW_KEYS = {"type", "name", "limit", "filters", "order", "sort", "groupBy", "summaries"}
VIEW_TYPES = {"table", "cards", "list", "map"}
FILTER_KEYS = {"and", "or", "not"}


def check_filter(node: Any) -> None:
    """A filter is an expression string, or an object with exactly one of and/or/not holding
    a list of filters."""
    if isinstance(node, str):
        assert node.strip()
        return
    assert isinstance(node, dict) and len(node) == 1 and set(node) <= FILTER_KEYS, node
    [items] = node.values()
    assert isinstance(items, list) and items
    for item in items:
        check_filter(item)


def test_the_base_file_parses_as_yaml_with_only_documented_keys() -> None:
    doc = yaml.safe_load(base_yaml())
    assert set(doc) <= TOP_KEYS and doc["views"]
    check_filter(doc["filters"])
    assert all(isinstance(v, str) for v in doc["formulas"].values())
    for name, prop in doc["properties"].items():
        assert set(prop) == {"displayName"}, name
    formulas = {f"formula.{k}" for k in doc["formulas"]}
    for view in doc["views"]:
        assert set(view) <= VIEW_KEYS and view["type"] in VIEW_TYPES and view["name"]
        assert all(isinstance(col, str) for col in view["order"])
        # every formula a view shows is defined
        assert {c for c in view["order"] if c.startswith("formula.")} <= formulas
        for rule in view.get("sort", []):
            assert set(rule) == {"property", "direction"} and rule["direction"] in ("ASC", "DESC")
        if "groupBy" in view:
            assert set(view["groupBy"]) == {"property", "direction"}
        if "filters" in view:
            check_filter(view["filters"])
        assert isinstance(view.get("limit", 1), int)
    names = {v["name"] for v in doc["views"]}
    assert {"By verification status", "Lowest confidence", "Least recently reinforced"} <= names
    sorted_by = {r["property"] for v in doc["views"] for r in v.get("sort", [])}
    assert {"confidence_score", "last_reinforced"} <= sorted_by


def test_types_json_gains_our_properties_and_keeps_every_other_key(tmp_path: Path) -> None:
    (tmp_path / ".obsidian").mkdir()
    path = tmp_path / ".obsidian" / "types.json"
    theirs = {"types": {"aliases": "aliases", "tags": "tags", "due": "date",
                        "confidence_score": "text"}, "extra": {"kept": [1, 2]}}  # fmt: skip
    path.write_text(json.dumps(theirs))
    assert register_types(tmp_path)
    merged = json.loads(path.read_text())
    assert merged["extra"] == {"kept": [1, 2]}
    ours = {"last_reinforced": "date", "verification_status": "text"}
    assert merged["types"] == {**theirs["types"], **ours}  # the user's confidence_score type stays
    assert path.read_text().startswith('{\n  "types": {')  # JSON as Obsidian formats it
    before = path.stat().st_mtime_ns
    assert not register_types(tmp_path) and path.stat().st_mtime_ns == before  # no rewrite


def test_types_json_is_created_only_in_a_vault_that_has_obsidian_folder(tmp_path: Path) -> None:
    assert not register_types(tmp_path) and not (tmp_path / ".obsidian").exists()
    (tmp_path / ".obsidian").mkdir()
    assert register_types(tmp_path)
    written = json.loads((tmp_path / ".obsidian" / "types.json").read_text())["types"]
    assert written == {"confidence_score": "number", "last_reinforced": "date",
                       "verification_status": "text"}  # fmt: skip


def test_an_unreadable_types_json_is_a_one_line_error_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / ".obsidian").mkdir()
    path = tmp_path / ".obsidian" / "types.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"types\.json: not JSON vaultttc can merge into"):
        register_types(tmp_path)
    assert path.read_text() == "{not json"


def test_the_report_shows_the_vault_with_pictures_it_embeds(tmp_path: Path) -> None:
    replay = tmp_path / "r.jsonl"
    replay.write_text("".join(json.dumps({"question": f"What is {n} times 2?",
                      "samples": [f"The answer is {2 * n}."]}) + "\n" for n in (1, 2)))  # fmt: skip
    (tmp_path / "a.md").write_text("> [!question] What is 1 times 2?\n> expect:: 2\n")
    (tmp_path / "b.md").write_text("> [!question] What is 2 times 2?\n> expect:: 5\n")
    options = RunOptions(cli={"provider": f"replay:{replay}", "strategy": "direct"})
    asyncio.run(run_paths([tmp_path], RunContext(options=options, env={}, now=lambda: NOW,
                                                  today=NOW.date)))  # fmt: skip
    vault = Vault(tmp_path, load_config(tmp_path))
    done = write_dashboard(vault, NOW)
    assert set(done.written) == {BASE_FILE, REPORT, "vaultttc/confidence.svg",
                                 "vaultttc/accuracy.svg", "vaultttc/spend.svg"}  # fmt: skip
    report = (tmp_path / REPORT).read_text()
    for picture in ("confidence.svg", "accuracy.svg", "spend.svg"):
        assert f"]({picture})" in report
        ET.parse(tmp_path / "vaultttc" / picture)  # a real SVG document
    assert "| verified | 1 |" in report and "| failed | 1 |" in report
    assert "| direct | 1 | 2 | 50% |" in report  # accuracy on the labelled questions
    assert "[[a]]" in report and "[[b]]" in report
    assert write_dashboard(vault, NOW).written == ()  # same data: nothing is rewritten
