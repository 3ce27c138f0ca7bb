"""`vaultttc test -n K`: notes in parallel (pytest-xdist, one note to a worker) report exactly
what a serial run reports: the same items, outcomes, messages and summary line.

The data set is the data-driven cases of `tests/data/living/` side by side in one vault (with
the setup case's `.vaultttc/setup.md`), run through the real command in a fresh process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from helpers import DATA

LIVING = DATA / "living"
NOTES = ("passing", "failing", "repl", "nested", "skipped", "output", "retry", "shell",
         "setup", "async", "unknown", "crash")  # fmt: skip
SUMMARY = re.compile(r"^=+ (?P<counts>.*?) in [\d.]+s", re.M)
WORKER = re.compile(
    r"^\[(?P<worker>gw\d+)\] .*?(?:PASSED|FAILED|SKIPPED) (?P<item>\S+::line \d+)", re.M
)


def vault_of_cases(root: Path) -> Path:
    vault = root / "v"
    shutil.copytree(LIVING / "setup.vault", vault)
    for name in NOTES:
        shutil.copyfile(LIVING / f"{name}.md", vault / f"{name}.md")
    return vault


def vaultttc_test(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `vaultttc test` command itself; plugin autoloading off, so `-n` must load xdist."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    argv = [sys.executable, "-m", "vaultttc.cli.main", "test", "v", "--allow-exec", *args]
    argv += ["--vault-timeout=120"] if "--" in args else ["--", "--vault-timeout=120"]  # load
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def items(report: Path) -> list[tuple[str, str, str]]:
    """(item, outcome, first line of its message) for every test case of a JUnit report."""
    found = []
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, (child.get("message") or "").split("\n")[0]
        found.append((f"{case.get('classname')}::{case.get('name')}", outcome, message))
    return sorted(found)


def summary(done: subprocess.CompletedProcess[str]) -> str:
    match = SUMMARY.search(done.stdout)
    assert match, done.stdout + done.stderr
    return match["counts"]


def test_parallel_equals_serial(tmp_path: Path) -> None:
    vault_of_cases(tmp_path)
    serial = vaultttc_test(tmp_path, "--", "--junitxml=serial.xml")
    parallel = vaultttc_test(tmp_path, "-n", "2", "--", "-v", "--junitxml=parallel.xml")
    assert serial.returncode == parallel.returncode == 1, serial.stdout + parallel.stdout
    assert "created: 2/2 workers" in parallel.stdout, parallel.stdout + parallel.stderr
    assert summary(parallel) == summary(serial)
    assert items(tmp_path / "parallel.xml") == items(tmp_path / "serial.xml")
    assert len(items(tmp_path / "serial.xml")) > 30
    workers = defaultdict(set)  # each note's items ran on one worker
    for match in WORKER.finditer(parallel.stdout):
        workers[match["item"].split("::")[0]].add(match["worker"])
    assert len(workers) == len(NOTES)
    assert all(len(used) == 1 for used in workers.values()), workers


def test_a_bad_worker_count_is_a_usage_error(tmp_path: Path) -> None:
    vault_of_cases(tmp_path)
    done = vaultttc_test(tmp_path, "-n", "zero")
    assert done.returncode == 2
    assert "a number of workers (1 or more) or auto" in done.stderr
