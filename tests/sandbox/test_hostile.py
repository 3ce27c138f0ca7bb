"""Hostile payloads against the real vaultttc API, as root and as an ordinary user.

The payloads (`payloads.py`) run in one subprocess per user (`users.run_as`): as root, as
uid 65534 (dropped to from root, or the runner's own uid when it is not root), and as that
user again under bubblewrap (as if it were the only isolation here), through the same public
functions vaultttc uses — the sandbox, the python verifier, the living-docs runner. A payload
that needs isolation the machine does not give is skipped with the OS's reason, never passed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from users import ROOT, run_as, skip_reason

SECRET = f"sk-ant-{secrets.token_hex(12)}"
MARKER = f"vaultttc-left-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def vault() -> Iterator[Path]:
    """A vault the ordinary user could read and write: a note and a cache, both open to all."""
    root = Path(tempfile.mkdtemp(prefix="vaultttc-hostile-"))
    (root / ".vaultttc").mkdir()
    (root / "note.md").write_text("# a note\n")
    (root / ".vaultttc" / "cache.sqlite").write_bytes(b"SQLite format 3\0")
    for path in (root, root / ".vaultttc"):
        path.chmod(0o777)
    for path in (root / "note.md", root / ".vaultttc" / "cache.sqlite"):
        path.chmod(0o666)
    yield root
    shutil.rmtree(root)


def targets(vault: Path) -> list[Path]:
    return [vault / "note.md", vault / ".vaultttc" / "cache.sqlite", ROOT / "README.md",
            ROOT / "vaultttc" / "__init__.py", Path.home() / ".bashrc"]  # fmt: skip


@pytest.fixture(scope="module", params=["root", "user", "bubblewrap"])
def who(request: pytest.FixtureRequest, vault: Path) -> Iterator[dict[str, Any]]:
    """Every payload's outcome as this user (and the vault's files as they were before)."""
    name = request.param
    reason = skip_reason(name)
    if reason:
        pytest.skip(reason)
    specs = {
        "keys": {"secret": SECRET},
        "files": {"targets": [str(t) for t in targets(vault)]},
        "network": {}, "kill": {}, "fork": {"marker": MARKER}, "memory": {},
        "ipc": {"key": 0x7A000000 + secrets.randbelow(1 << 20), "marker": MARKER},
        "forged_verdicts": {}, "forged_checks": {}, "forged_examples": {},
    }  # fmt: skip
    bubblewrap = name == "bubblewrap"
    code = (f"import json, payloads; payloads.run(json.loads({json.dumps(specs)!r}),"
            f" bubblewrap={bubblewrap})")  # fmt: skip
    env = {"ANTHROPIC_API_KEY": SECRET, "OPENAI_API_KEY": SECRET, "HF_TOKEN": SECRET}
    before = {t: t.read_bytes() for t in targets(vault) if t.exists()}
    outcomes = run_as("user" if bubblewrap else name, code, env=env)
    assert (outcomes.pop("uid") == 0) == (name == "root")
    if "skip" in outcomes:
        pytest.skip(outcomes["skip"])
    yield {**outcomes, "before": before}


def outcome(who: dict[str, Any], name: str) -> Any:
    result = who[name]
    if isinstance(result, dict) and "skip" in result:
        pytest.skip(result["skip"])
    return result


def test_keys_reach_the_code_by_no_path(who: dict[str, Any]) -> None:
    result = outcome(who, "keys")
    assert result["ran"]
    assert not result["leaked"]


def test_the_vault_the_cache_and_the_checkout_are_out_of_reach(who: dict[str, Any]) -> None:
    result = outcome(who, "files")
    assert (result["read"], result["written"]) == ([], []), result["stderr"]
    before = who["before"]
    assert {t: t.read_bytes() for t in before} == before


def test_there_is_no_network_not_even_loopback(who: dict[str, Any]) -> None:
    result = outcome(who, "network")
    assert result["ok"]
    assert result["reached"] == "[]"
    assert result["accepted"] == []


def test_vaultttc_and_other_processes_cannot_be_killed(who: dict[str, Any]) -> None:
    assert outcome(who, "kill") == {"survived": True, "victim_alive": True}


def test_a_fork_bomb_and_setsid_escapees_leave_nothing_behind(who: dict[str, Any]) -> None:
    result = outcome(who, "fork")
    assert result["left"] == []
    assert result["same_uid"] == []


def test_memory_is_bounded_for_the_whole_tree_not_per_process(who: dict[str, Any]) -> None:
    result = outcome(who, "memory")
    assert result["children"] > 0 and result["held_mb"] > 0, result
    assert result["held_mb"] <= result["budget_mb"], result


def test_ipc_objects_and_temp_files_do_not_outlive_their_candidate(who: dict[str, Any]) -> None:
    result = outcome(who, "ipc")
    assert int(result["planted"]) > 0  # the candidate did make segments, in its own namespace
    assert result["seen_by_next"] == "0"
    assert result["host_objects"] == 0
    assert result["host_files"] == []


def test_forged_passes_fail(who: dict[str, Any]) -> None:
    verdicts = dict(outcome(who, "forged_verdicts"))
    assert verdicts.pop("good")[0] is True
    assert {name: v[0] for name, v in verdicts.items()} == dict.fromkeys(verdicts, False)


def test_forged_check_passes_fail(who: dict[str, Any]) -> None:
    verdicts = dict(outcome(who, "forged_checks"))
    assert verdicts.pop("good")[0] is True
    assert {name: v[0] for name, v in verdicts.items()} == dict.fromkeys(verdicts, False)


def test_forged_living_reports_do_not_pass_a_later_failing_example(who: dict[str, Any]) -> None:
    for name, results in outcome(who, "forged_examples").items():
        statuses = [status for status, _ in results]
        assert statuses[0] == "passed", name
        assert "failed" in statuses[1:3], f"{name}: {results}"
        assert "passed" not in statuses[2:], f"{name}: {results}"  # `assert False`, and after


def test_the_ordinary_user_really_is_one() -> None:
    """The "user" runs above are not root in disguise (the launcher drops to 65534)."""
    code = "import json, os; print(json.dumps({'uid': os.getuid(), 'euid': os.geteuid()}))"
    result = run_as("user", code)
    assert result["uid"] != 0 and result["euid"] != 0
    if os.geteuid() == 0:
        assert result["uid"] == 65534
