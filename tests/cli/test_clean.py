"""`vaultttc clean`: run, then clean, gives back every byte the author wrote.

On vault_example (answers, frontmatter keys replaced and added, changelog rows) and on the
276 real notes in ../shared/corpora (each given a question first, so the run writes a region,
owned keys, and a changelog section the note did not have, whatever its frontmatter, line
endings or final newline).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import DATA, REPO, shared

from vaultttc.cli.main import cli
from vaultttc.notes.clean import clean_text
from vaultttc.notes.parse import parse_note

NO_KEYS = {k: None for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")}
REPLAY = DATA / "replay" / "vault_example.jsonl"
QUESTION = "What is 2 plus 3?"


def invoke(*argv: str) -> Result:
    return CliRunner(env=NO_KEYS).invoke(cli, list(argv), catch_exceptions=False)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.md"))}


def test_run_then_clean_gives_vault_example_back_byte_for_byte(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    shutil.copytree(REPO / "vault_example", vault)
    shutil.rmtree(vault / ".vaultttc" / "cache.sqlite", ignore_errors=True)
    before = snapshot(vault)
    invoke("run", str(vault), "--provider", f"replay:{REPLAY}", "--allow-exec")
    after_run = snapshot(vault)
    assert after_run != before
    dry = invoke("clean", str(vault), "--dry-run")
    assert dry.exit_code == 0 and "vaultttc:begin" in dry.stdout
    assert snapshot(vault) == after_run  # a dry run writes nothing
    assert invoke("clean", str(vault)).exit_code == 0
    assert snapshot(vault) == before


def _with_question(data: bytes) -> bytes:
    text = data.decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    ending = "" if text.endswith(("\n", "\r")) or not text else newline
    return (text + ending + newline + f"> [!question] {QUESTION}{newline}").encode("utf-8")


def corpus_notes() -> list[Path]:
    return sorted(p for c in ("kepano-obsidian", "obsidian-help-en")
                  for p in shared("corpora", c).rglob("*.md"))  # fmt: skip


def test_run_then_clean_gives_every_corpus_note_back(tmp_path: Path) -> None:
    sources = corpus_notes()
    assert len(sources) == 276
    vault = tmp_path / "vault"
    originals: dict[str, bytes] = {}
    for i, source in enumerate(sources):
        target = vault / f"{i:03d}-{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        originals[target.name] = _with_question(source.read_bytes())
        target.write_bytes(originals[target.name])
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"question": QUESTION, "samples": ["5"]}) + "\n")
    report = json.loads(invoke("run", str(vault), "--provider", f"replay:{replay}",
                               "--strategy", "direct", "--json").stdout)  # fmt: skip
    changed = {Path(n["path"]).name for n in report["notes"] if n["changed"]}
    unreadable = {Path(n["path"]).name for n in report["notes"] if n["error"]}
    assert len(changed) + len(unreadable) == len(sources) and len(changed) > 250
    invoke("clean", str(vault))
    differ = [name for name, data in originals.items() if (vault / name).read_bytes() != data]
    assert differ == []


@pytest.mark.parametrize(
    "text",
    [
        "# No frontmatter\n\n> [!question] Q?\n",
        "---\nconfidence_score: 0.5   # mine\ntitle: t\n---\n> [!question] Q?",
        "---\ntitle: t\n---\n> [!note] Notes\n> > [!question] Q?\n>\n> more\n\ntail\n",
        "# T\n\n> [!question] Q?\n## Changelog\nBy hand.\n## Next\n",
    ],
)
def test_clean_is_the_inverse_of_a_run_for_edge_shapes(tmp_path: Path, text: str) -> None:
    note = tmp_path / "n.md"
    note.write_bytes(text.encode("utf-8"))
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"question": "Q?", "samples": ["5"]}) + "\n")
    invoke("run", str(tmp_path), "--provider", f"replay:{replay}", "--strategy", "direct")
    assert note.read_bytes() != text.encode("utf-8")
    invoke("clean", str(tmp_path))
    assert note.read_bytes() == text.encode("utf-8")


def test_a_clean_note_is_left_alone() -> None:
    assert clean_text(parse_note("# N\n\n> [!question] Q?\n", "n.md")) is None
