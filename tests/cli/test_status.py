"""`vaultttc status`, `run --stale-after` and `dashboard` through the real CLI: the regression
is loud on stderr with its own exit code, status repeats it, bad ages are one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner, Result

from vaultttc.cli.main import cli
from vaultttc.config import load_config
from vaultttc.vault.session import Vault
from vaultttc.vault.status import collect, to_json

NOTE = "---\ntitle: t\n---\n> [!question] What is 6 times 7?\n> expect:: 42\n"


def replay(folder: Path, name: str, answer: str) -> str:
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.jsonl"
    line = {"question": "What is 6 times 7?", "samples": [f"The answer is {answer}."]}
    path.write_text(json.dumps(line) + "\n")
    return f"replay:{path}"


def invoke(*argv: str) -> Result:
    if argv[0] == "run":
        argv = (*argv, "--strategy", "direct")
    return CliRunner().invoke(cli, list(argv), catch_exceptions=False)


def test_a_regression_is_loud_exits_4_and_status_repeats_it(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    vault.mkdir()
    (vault / "n.md").write_text(NOTE)
    first = invoke("run", str(vault), "--provider", replay(tmp_path / "a", "model-a", "42"))
    assert first.exit_code == 0
    again = invoke("run", str(vault), "--provider", replay(tmp_path / "b", "model-b", "41"),
                   "--stale-after", "30d")  # fmt: skip
    assert again.exit_code == 4
    [line] = [x for x in again.stderr.splitlines() if x.startswith("REGRESSION")]  # line 7: after
    # the three keys the first run added
    assert "n.md:7" in line and "replay-model-a" in line and "replay-model-b" in line
    status = invoke("status", str(vault), "--json")
    data = json.loads(status.stdout)
    assert data["regressions"][0]["old_model"] == "replay-model-a"
    assert data["notes_by_status"] == {"failed": 1}
    assert data["daemon"] == {"running": False, "pid": None, "last_reverify": None}
    assert "REGRESSION n.md:7" in invoke("status", str(vault)).stdout


def test_a_bad_age_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_text(NOTE)
    result = invoke("run", str(tmp_path), "--provider", "local", "--stale-after", "monthly")
    assert result.exit_code == 2
    assert "'monthly' is not an age" in result.stderr and "30d or 2w" in result.stderr
    assert (tmp_path / "n.md").read_text() == NOTE


def test_status_counts_stale_pending_and_ranks_the_stalest(tmp_path: Path) -> None:
    old = "%% vaultttc:begin id=q-{i} hash=h verdict={v} confidence={c} at={at} by=m ans=0 %%"
    body = "\n> [!success]- ok\n> 1\n%% vaultttc:end %%\n"
    notes = {"old.md": ("verified", "0.90", "2026-09-01T00:00Z"),
             "new.md": ("consensus", "0.40", "2026-11-29T00:00Z")}  # fmt: skip
    for i, (name, (verdict, conf, at)) in enumerate(notes.items()):
        region = old.format(i=i, v=verdict, c=conf, at=at) + body
        (tmp_path / name).write_text(f"> [!question] Q{i}?\n\n{region}\n> [!question] Open {i}?\n")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    data = to_json(collect(Vault(tmp_path, load_config(tmp_path)), now, stale_after="30d"))
    assert [a["note"] for a in data["stalest"]] == ["old.md", "new.md"]
    assert data["stalest"][0]["age_days"] == (now - datetime(2026, 9, 1, tzinfo=UTC)).days
    assert [a["confidence"] for a in data["lowest_confidence"]] == [0.4, 0.9]
    assert data["work"]["stale"] == 1 and data["work"]["pending"] == 4  # q-ids differ + opens
    assert data["questions_by_verdict"] == {"verified": 1, "consensus": 1}


def test_dashboard_writes_the_base_and_report(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_text(NOTE)
    result = invoke("dashboard", str(tmp_path))
    assert result.exit_code == 0 and "wrote vaultttc.base" in result.stdout
    assert (tmp_path / "vaultttc" / "Report.md").is_file()
    assert "dashboard up to date" in invoke("dashboard", str(tmp_path)).stdout
