"""The real embedded model end to end: llama-cpp-python running the packaged Gemma 3 270M GGUF,
through `vaultttc run`, offline. It cannot reason; this proves the pipeline, not the answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultttc.cli.main import cli
from vaultttc.notes.parse import parse_note

pytestmark = pytest.mark.local_model

NOTE = """---
title: Local smoke test
tech_stack:
  language: Python
ttc:
  max_tokens: 24
---
# Local

> [!question] What is 2 + 3?
> expect:: 5

Prose after.

## 🕓 Changelog

| 날짜 | 변경 |
|---|---|
| 2026-01-01 | created |
"""


@pytest.mark.slow
def test_local_model_answers_a_note_offline(tmp_path: Path) -> None:
    note = tmp_path / "smoke.md"
    note.write_text(NOTE)
    argv = ["run", str(note), "--provider", "local", "--strategy", "self-consistency",
            "--samples", "2", "--json"]  # fmt: skip
    env = {"ANTHROPIC_API_KEY": None, "OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}
    result = CliRunner(env=env).invoke(cli, argv, catch_exceptions=False)
    report = json.loads(result.stdout)
    [question] = report["notes"][0]["questions"]
    assert question["provider"] == "local"
    assert question["samples_used"] == 2
    assert question["output_tokens"] > 0
    assert result.exit_code in (0, 1)  # the 270M model is usually wrong: failing is honest
    written = parse_note(note.read_text(), "smoke.md")
    [asked] = written.questions
    assert asked.answer is not None
    assert written.frontmatter is not None
    assert written.frontmatter.data["verification_status"] in ("verified", "failed", "consensus")
    assert note.read_text().count("| 20") == 2  # one changelog row added
    rerun = CliRunner(env=env).invoke(cli, argv, catch_exceptions=False)
    assert json.loads(rerun.stdout)["totals"]["questions"] == 0
