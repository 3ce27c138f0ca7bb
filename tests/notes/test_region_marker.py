"""An answer region's verdict and confidence live in its begin marker, next to id and hash.

The bug this guards: they were read back from the rendered callout header, so a vault that
overrides the answer template read its verified answers back as failed.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from vaultttc.cli.main import cli
from vaultttc.notes.compose import region_verdict
from vaultttc.notes.parse import parse_note

NO_KEYS = {k: None for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")}
CUSTOM = "> [!note]- vaultttc says\n> {{ o.answer }}\n"


def region(marker: str, header: str) -> tuple[str, float | None]:
    text = f"> [!question] Q?\n\n{marker}\n{header}\n> 5\n%% vaultttc:end %%\n"
    answer = parse_note(text, "n.md").questions[0].answer
    assert answer is not None
    return region_verdict(answer)


def test_the_marker_says_the_verdict_whatever_the_callout_shows() -> None:
    marked = "%% vaultttc:begin id=q-1 hash=abc verdict=verified confidence=0.93 %%"
    assert region(marked, "> [!note]- anything at all") == ("verified", 0.93)


def test_old_markers_still_read_from_the_default_callout_header() -> None:
    old = "%% vaultttc:begin id=q-1 hash=abc %%"
    assert region(old, "> [!success]- Verified · direct · confidence 0.88") == ("verified", 0.88)
    assert region(old, "> [!info]- Consensus · confidence 0.5") == ("consensus", 0.5)


def test_a_vault_with_its_own_answer_template_keeps_its_verified_notes(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    (vault / ".vaultttc" / "templates").mkdir(parents=True)
    (vault / ".vaultttc" / "templates" / "answer.md.j2").write_text(CUSTOM)
    note = vault / "n.md"
    note.write_text("# N\n\n> [!question] What is 2 plus 3?\n> expect:: 5\n")
    replay = tmp_path / "r.jsonl"
    replay.write_text(
        "\n".join(json.dumps({"question": q, "samples": [a] * 8})
                  for q, a in (("What is 2 plus 3?", "5"), ("What is 3 plus 4?", "7"))) + "\n"
    )  # fmt: skip

    def run() -> None:
        argv = ["run", str(vault), "--provider", f"replay:{replay}", "--strategy", "direct"]
        CliRunner(env=NO_KEYS).invoke(cli, argv, catch_exceptions=False)

    run()
    assert "vaultttc says" in note.read_text()
    assert "verification_status: verified" in note.read_text()
    # A second question: the first is not asked again, its stored verdict is read back.
    note.write_text(note.read_text() + "\n> [!question] What is 3 plus 4?\n> expect:: 7\n")
    run()
    text = note.read_text()
    assert text.count("vaultttc says") == 2
    assert "verification_status: verified" in text
