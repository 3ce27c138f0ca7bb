"""Hostile payloads against the real vaultttc API, as root and as an ordinary user.

Each payload runs in a subprocess (`users.run_as`): as root, and as uid 65534 (dropped to
from root, or the runner's own uid when it is not root), through the same public functions
vaultttc uses — the sandbox, the python verifier, the living-docs runner. A payload that
needs isolation the machine does not give is skipped with the OS's reason, never passed.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from users import ROOT, run_as, skip_reason

WHO = pytest.mark.parametrize("who", ["root", "user"])


def hostile(who: str, name: str, *, env: dict[str, str] | None = None, **args: Any) -> Any:
    """Run payload `name` as `who`; what it reports (skips where it cannot be tried)."""
    reason = skip_reason(who)
    if reason:
        pytest.skip(reason)
    code = f"import json, payloads; payloads.run({name!r}, json.loads({json.dumps(args)!r}))"
    result = run_as(who, code, env=env)
    if "skip" in result:
        pytest.skip(result["skip"])
    uid = result.pop("uid")
    assert (uid == 0) == (who == "root"), uid
    return result


@pytest.fixture
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
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    root.rmdir()


@WHO
def test_keys_reach_the_code_by_no_path(who: str) -> None:
    secret = f"sk-ant-{secrets.token_hex(12)}"
    env = {"ANTHROPIC_API_KEY": secret, "OPENAI_API_KEY": secret, "HF_TOKEN": secret}
    result = hostile(who, "keys", env=env, secret=secret)
    assert result["ran"]
    assert not result["leaked"]


@WHO
def test_the_vault_the_cache_and_the_checkout_are_out_of_reach(who: str, vault: Path) -> None:
    targets = [vault / "note.md", vault / ".vaultttc" / "cache.sqlite", ROOT / "README.md",
               ROOT / "vaultttc" / "__init__.py", Path.home() / ".bashrc"]  # fmt: skip
    before = {t: t.read_bytes() for t in targets if t.exists()}
    result = hostile(who, "files", targets=[str(t) for t in targets])
    assert (result["read"], result["written"]) == ([], []), result["stderr"]
    assert {t: t.read_bytes() for t in before} == before


@WHO
def test_there_is_no_network_not_even_loopback(who: str) -> None:
    result = hostile(who, "network")
    assert result["ok"]
    assert result["reached"] == "[]"
    assert result["accepted"] == []


@WHO
def test_vaultttc_and_other_processes_cannot_be_killed(who: str) -> None:
    result = hostile(who, "kill")
    assert result == {"survived": True, "victim_alive": True}


@WHO
def test_a_fork_bomb_and_setsid_escapees_leave_nothing_behind(who: str) -> None:
    result = hostile(who, "fork", marker=f"vaultttc-escapee-{uuid.uuid4().hex}")
    assert result["left"] == []
    assert result["same_uid"] == []


@WHO
def test_memory_is_bounded_for_the_whole_tree_not_per_process(who: str) -> None:
    result = hostile(who, "memory")
    assert result["held_mb"] > 0, result
    assert result["held_mb"] <= result["budget_mb"], result


@WHO
def test_ipc_objects_and_temp_files_do_not_outlive_their_candidate(who: str) -> None:
    marker = f"vaultttc-left-{uuid.uuid4().hex}"
    result = hostile(who, "ipc", key=0x7A000000 + secrets.randbelow(1 << 20), marker=marker)
    assert int(result["planted"]) > 0  # the candidate did make segments, in its own namespace
    assert result["seen_by_next"] == "0"
    assert result["host_objects"] == 0
    assert result["host_files"] == []


@WHO
def test_forged_passes_fail(who: str) -> None:
    verdicts = hostile(who, "forged_verdicts")
    assert verdicts.pop("good")[0] is True
    assert {name: v[0] for name, v in verdicts.items()} == dict.fromkeys(verdicts, False)


@WHO
def test_forged_living_reports_do_not_pass_a_later_failing_example(who: str) -> None:
    outcomes = hostile(who, "forged_examples")
    for name, results in outcomes.items():
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
    assert stat.S_IMODE(os.stat(ROOT).st_mode) & 0o005
