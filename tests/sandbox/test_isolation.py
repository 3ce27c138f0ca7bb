"""What the machine gives, said by `vaultttc doctor`, and the gate for running without it.

Where no isolation is available nothing runs unless acknowledged, and an acknowledged run
says so on its first line: through the sandbox's API, `vaultttc run`/`test`'s
`--allow-exec=unsandboxed`, and `pytest --allow-unsandboxed`. The machine's lack of
isolation is pretended here (the detection is replaced), so these run everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from vaultttc.cli.doctor import UNSANDBOXED_LINE, ExecCommand, unsandboxed_option
from vaultttc.cli.main import cli
from vaultttc.sandbox import cgroup, detect
from vaultttc.sandbox import parent as sandbox
from vaultttc.sandbox.detect import Isolation, describe, isolation, refusal, unsandboxed

pytest_plugins = ["pytester"]
NONE = Isolation("none", separate_uid=False, reason="user namespaces: pretended off")
NOTE = "---\ntitle: t\n---\n\n```python\nprint('ran')\n```\n\n```output\nran\n```\n"


@pytest.fixture
def no_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect, "isolation", lambda: NONE)
    monkeypatch.setattr(sandbox, "isolation", lambda: NONE)


def test_the_probe_finds_what_this_machine_gives() -> None:
    found = isolation()
    assert found.mode in ("root-namespaces", "user-namespaces", "none")
    assert describe(found)[0].startswith(f"isolation: {found.mode}")
    assert (refusal() is None) == found.namespaces


def test_doctor_prints_the_mode_files_and_memory() -> None:
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("isolation: ")
    assert lines[-1].startswith("memory: ")


@pytest.mark.usefixtures("no_isolation")
def test_without_isolation_the_refusal_names_the_acknowledgment() -> None:
    reason = refusal()
    assert reason is not None
    assert "--allow-exec=unsandboxed" in reason and "pretended off" in reason
    with unsandboxed():
        assert refusal() is None
    assert refusal() is not None
    assert "code runs only with --allow-exec=unsandboxed" in "\n".join(describe(NONE))


def test_allow_exec_may_be_spelled_unsandboxed() -> None:
    @click.command(cls=ExecCommand)
    @click.argument("paths", nargs=-1)
    @click.option("--allow-exec", is_flag=True)
    @unsandboxed_option
    def command(paths: tuple[str, ...], allow_exec: bool, unsandboxed: bool) -> None:
        click.echo(f"{paths} {allow_exec} {unsandboxed}")

    runner = CliRunner()
    assert runner.invoke(command, ["--allow-exec", "a.md"]).output == "('a.md',) True False\n"
    spelled = runner.invoke(command, ["a.md", "--allow-exec=unsandboxed"]).output
    assert spelled == "('a.md',) True True\n"
    assert runner.invoke(command, ["a.md"]).output == "('a.md',) False False\n"


@pytest.mark.usefixtures("no_isolation")
def test_an_unsandboxed_run_says_so_on_its_first_line(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text(NOTE)
    runner = CliRunner()
    told = runner.invoke(cli, ["test", str(note), "--allow-exec=unsandboxed", "-q"])
    assert told.stderr.splitlines()[0] == UNSANDBOXED_LINE
    assert told.exit_code == 0, told.output
    refused = runner.invoke(cli, ["test", str(note), "--allow-exec", "-q"])
    assert refused.stderr.splitlines()[0].startswith("vaultttc: code will not run: ")
    assert "1 skipped" in refused.output


@pytest.mark.usefixtures("no_isolation")
def test_pytest_runs_examples_unsandboxed_only_when_told(pytester: pytest.Pytester) -> None:
    (pytester.path / "note.md").write_text(NOTE)
    refused = pytester.inline_run("-p", "no:cacheprovider", "--vault", ".", "--allow-exec")
    refused.assertoutcome(skipped=1)
    [skipped] = refused.listoutcomes()[1]
    assert "--allow-exec=unsandboxed" in str(skipped.longrepr)
    told = pytester.inline_run(
        "-p", "no:cacheprovider", "--vault", ".", "--allow-exec", "--allow-unsandboxed"
    )
    told.assertoutcome(passed=1)
    assert refusal() is not None  # the acknowledgment ended with the session


def fake_cgroup(root: Path, controllers: str) -> Path:
    root.mkdir(exist_ok=True)
    (root / "cgroup.subtree_control").write_text(controllers)
    return root


def test_a_cgroup_bounds_a_run_only_where_its_controllers_are_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cgroup.time, "sleep", lambda _: None)  # a fake tree never empties
    assert cgroup.usable_parent(fake_cgroup(tmp_path / "a", "cpu io")) is None
    parent = fake_cgroup(tmp_path, "cpu memory pids")
    made: list[Any] = []
    with cgroup.run_group(parent, memory_mb=300, pids=12) as group:
        assert group is not None
        made += [(group / "memory.max").read_text(), (group / "pids.max").read_text()]
    assert made == [str(300 * 1024 * 1024), "12"]
    with cgroup.run_group(None, memory_mb=300, pids=12) as nothing:
        assert nothing is None
