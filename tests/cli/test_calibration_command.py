"""The vault calibrates itself, end to end through the real CLI: questions with `expect::` fill
`.vaultttc/calibration.jsonl`, an unchecked question's confidence then comes from the vault's
own map, and `vaultttc calibration` reports it (text and JSON)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from vaultttc.cli.main import cli
from vaultttc.engine.calibration import MIN_OUTCOMES, PRIOR_WEIGHT, prior_confidence
from vaultttc.engine.tasks import Signal

NO_KEYS = {k: None for k in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")}


def make_vault(tmp_path: Path, labelled: int) -> tuple[Path, Path]:
    """A vault whose model always answers 7; `labelled` questions expect 8 (so it is wrong)."""
    root = tmp_path / "vault"
    (root / ".vaultttc").mkdir(parents=True)
    blocks, rows = [], []
    for i in range(labelled + 1):
        question = f"Question number {i}: what is the sum of four and four?"
        rows.append({"question": question, "samples": ["The answer is 7"]})
        expect = "> expect:: 8\n" if i < labelled else ""
        blocks.append(f"> [!question] {question}\n> id:: q{i}\n{expect}")
    note = "---\ntitle: sums\n---\n\n# Sums\n\n" + "\n".join(blocks)
    (root / "sums.md").write_text(note, encoding="utf-8")
    replay = tmp_path / "replay.jsonl"
    replay.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root, replay


def run(root: Path, replay: Path) -> dict[str, object]:
    argv = ["run", str(root), "--provider", f"replay:{replay}", "--strategy", "direct", "--json"]
    result = CliRunner(env=NO_KEYS).invoke(cli, argv, catch_exceptions=False)
    report: dict[str, object] = json.loads(result.output)
    return report


def confidence_of(report: dict[str, object], qid: str) -> float:
    notes = report["notes"]
    assert isinstance(notes, list)
    question = next(q for n in notes for q in n["questions"] if q["id"] == qid)
    return float(question["confidence"])


def test_labelled_questions_teach_the_vault_what_its_models_single_samples_are_worth(
    tmp_path: Path,
) -> None:
    root, replay = make_vault(tmp_path, MIN_OUTCOMES)
    report = run(root, replay)
    store = root / ".vaultttc" / "calibration.jsonl"
    lines = [json.loads(x) for x in store.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == MIN_OUTCOMES and not any(x["label"] for x in lines)
    assert {x["kind"] for x in lines} == {"single"}
    prior = prior_confidence(Signal("single", 1.0))
    learned = PRIOR_WEIGHT * prior / (MIN_OUTCOMES + PRIOR_WEIGHT)
    assert abs(confidence_of(report, f"q{MIN_OUTCOMES}") - learned) < 0.01

    shown = CliRunner().invoke(cli, ["calibration", str(root)], catch_exceptions=False)
    assert f"{MIN_OUTCOMES} labelled outcomes, accuracy 0.000, map in use: vault" in shown.output
    assert "held-out (5 folds)" in shown.output and "· question · single" in shown.output

    as_json = CliRunner().invoke(cli, ["calibration", str(root), "--json"])
    data = json.loads(as_json.output)
    (entry,) = data["maps"]
    assert (entry["kind"], entry["outcomes"], entry["map"]) == ("single", MIN_OUTCOMES, "vault")
    assert entry["held_out"]["auroc"] is None and entry["reliability"][0]["accuracy"] == 0.0
    assert data["min_outcomes"] == MIN_OUTCOMES


def test_below_the_threshold_the_prior_still_decides(tmp_path: Path) -> None:
    root, replay = make_vault(tmp_path, MIN_OUTCOMES - 1)
    report = run(root, replay)
    prior = prior_confidence(Signal("single", 1.0))
    assert abs(confidence_of(report, f"q{MIN_OUTCOMES - 1}") - prior) < 0.01
    shown = CliRunner().invoke(cli, ["calibration", str(root)])
    assert "map in use: prior" in shown.output


def test_an_empty_vault_says_how_it_would_learn(tmp_path: Path) -> None:
    (tmp_path / ".vaultttc").mkdir()
    shown = CliRunner().invoke(cli, ["calibration", str(tmp_path)])
    assert shown.exit_code == 0 and "no labelled outcomes yet" in shown.output
