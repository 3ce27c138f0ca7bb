"""The pytest plugin around the data-driven cases: what it collects, how it names items, that a
note runs in one process, the seed note, `vault_example/`, and `vaultttc test`'s entry point."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DATA, REPO, shared

pytest_plugins = ["pytester"]

LIVING = DATA / "living"
QUIET = ("-p", "no:hypothesispytest", "-p", "no:anyio")

FIRST_NOTE = """
```python
import sys
assert not hasattr(sys, "vaultttc_marker"), "a fresh process for each note"
sys.vaultttc_marker = "first"
```

```python
assert sys.vaultttc_marker == "first", "the same process for all of a note's examples"
```
"""


def node_ids(reprec: pytest.HookRecorder) -> list[str]:
    reports = reprec.getreports("pytest_runtest_logreport")
    return [r.nodeid for r in reports if r.when == "call" or (r.when == "setup" and r.skipped)]


def test_items_are_named_by_note_path_and_line(pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    (vault / "topics" / "deep").mkdir(parents=True)
    shutil.copyfile(LIVING / "async.md", vault / "topics" / "deep" / "async.md")
    shutil.copyfile(LIVING / "unknown.md", vault / "unknown.md")
    reprec = pytester.inline_run(*QUIET, "--vault", str(vault), "--allow-exec")
    assert node_ids(reprec) == [
        "vault/unknown.md::line 8",
        "vault/topics/deep/async.md::line 6",
        "vault/topics/deep/async.md::line 23",
        "vault/topics/deep/async.md::line 30",
        "vault/topics/deep/async.md::line 40",
        "vault/topics/deep/async.md::line 48",
    ]


def test_vault_walk_skips_ignored_and_excluded_folders(pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    for folder in (".obsidian", ".trash", "Templates", "notes"):
        (vault / folder).mkdir()
        shutil.copyfile(LIVING / "passing.md", vault / folder / "passing.md")
    (vault / ".vaultttc").mkdir()
    (vault / ".vaultttc" / "config.toml").write_text('exclude = ["Templates"]\n')
    (vault / "test_inside_vault.py").write_text("def test_not_collected():\n    pass\n")
    reprec = pytester.inline_run(*QUIET, "--vault", str(vault), "--allow-exec")
    assert {nodeid.split("::")[0] for nodeid in node_ids(reprec)} == {"vault/notes/passing.md"}
    reprec.assertoutcome(passed=6)


def test_md_files_are_collected_only_when_asked_for(pytester: pytest.Pytester) -> None:
    shutil.copyfile(LIVING / "consent.md", pytester.path / "consent.md")
    pytester.inline_run(*QUIET, str(pytester.path)).assertoutcome()
    pytester.inline_run(*QUIET, "consent.md").assertoutcome(passed=1)


def test_one_process_per_note_runs_all_its_examples(pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    for name in ("a.md", "b.md"):
        (vault / name).write_text(FIRST_NOTE)
    reprec = pytester.inline_run(*QUIET, "--vault", str(vault), "--allow-exec")
    reprec.assertoutcome(passed=4)
    assert not hasattr(sys, "vaultttc_marker")


def test_selecting_one_item_still_runs_what_it_depends_on(pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    shutil.copyfile(LIVING / "async.md", vault / "async.md")
    reprec = pytester.inline_run(
        *QUIET, "--vault", str(vault), "--allow-exec", "-k", "async and 30"
    )
    reprec.assertoutcome(passed=1)


def test_a_broken_note_does_not_stop_the_others(pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    for name in ("broken.md", "consent.md"):
        shutil.copyfile(LIVING / name, vault / name)
    (vault / "binary.md").write_bytes(b"\x00\x01\x02 not text")
    reprec = pytester.inline_run(*QUIET, "--vault", str(vault))
    reprec.assertoutcome(passed=1, failed=2)
    failed = {rep.nodeid: str(rep.longrepr) for rep in reprec.getfailures()}
    assert failed == {
        "vault/binary.md::note": "vault/binary.md: is a binary file, not a Markdown note",
        "vault/broken.md::note": "vault/broken.md:5: unclosed code fence ```python",
    }


def seed_line(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.slow
def test_seed_note_fails_and_skips_honestly(pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    seed = shared("seed", "test-time-compute-scaling.md")
    shutil.copyfile(seed, vault / "seed.md")
    text = seed.read_text(encoding="utf-8")
    fences = [i + 2 for i, line in enumerate(text.splitlines()) if line == "```python"]
    items = [f"vault/seed.md::line {n}" for n in fences]

    unconsented = pytester.inline_run(*QUIET, "--vault", str(vault))
    assert node_ids(unconsented) == items
    unconsented.assertoutcome(skipped=len(fences))

    # Importing the SDKs in the sandbox can take past the default 10 s on a loaded machine.
    reprec = pytester.inline_run(
        *QUIET, "--vault", str(vault), "--allow-exec", "--vault-timeout=120"
    )
    assert node_ids(reprec) == items
    heads = {rep.nodeid: str(rep.longrepr).splitlines()[0] for rep in reprec.getfailures()}
    expect = {
        fences[1]: (seed_line(text, "client = OpenAI()"), "OPENAI_API_KEY"),
        fences[3]: (seed_line(text, "answers = [extract_answer"), "name 'samples' is not"),
        fences[5]: (seed_line(text, 'diff = client.messages.create(model="claude-haiku'), "Syntax"),
    }
    for fence, (line, words) in expect.items():
        head = heads[f"vault/seed.md::line {fence}"]
        assert head.startswith(f"vault/seed.md:{line}: ") and words in head, head
    anthropic = heads[f"vault/seed.md::line {fences[0]}"]
    line = int(re.match(r"vault/seed\.md:(\d+): ", anthropic).group(1))  # type: ignore[union-attr]
    assert fences[0] <= line < fences[1] and "api_key" in anthropic
    assert len(heads) == 4  # the two fences that only define functions pass


def test_vault_example_passes(pytester: pytest.Pytester) -> None:
    reprec = pytester.inline_run(*QUIET, "--vault", str(REPO / "vault_example"), "--allow-exec")
    passed, _, failed = reprec.listoutcomes()
    assert not failed, [str(rep.longrepr) for rep in failed]
    assert len(passed) >= 5


def run_vaultttc_test(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`vaultttc test PATH [--allow-exec] -- -q` as the CLI calls it, in a fresh process.

    Plugin autoloading is off (it only slows the run down): `main` must load its plugin itself.
    """
    code = (
        "import sys; from vaultttc.living.pytest_plugin import main; "
        "sys.exit(main(sys.argv[1:2], allow_exec=sys.argv[2] == 'yes', extra_args=['-q']))"
    )
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_main_ignores_vault_conftest_and_python_tests(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    shutil.copyfile(LIVING / "passing.md", vault / "passing.md")
    marker = tmp_path / "conftest-ran.txt"
    (vault / "conftest.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (vault / "test_evil.py").write_text(f"def test_evil():\n    open({str(marker)!r}, 'w')\n")
    (vault / "pytest.ini").write_text(f"[pytest]\naddopts = -p evil --rootdir={tmp_path}\n")
    done = run_vaultttc_test(tmp_path, "vault", "no")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 skipped" in done.stdout
    assert not marker.exists()
    done = run_vaultttc_test(tmp_path, "vault", "yes")
    assert done.returncode == 0 and "6 passed" in done.stdout, done.stdout + done.stderr
    assert not marker.exists()


def test_main_exit_codes(tmp_path: Path) -> None:
    shutil.copyfile(LIVING / "failing.md", tmp_path / "failing.md")
    (tmp_path / "empty").mkdir()
    failed = run_vaultttc_test(tmp_path, "failing.md", "yes")
    assert failed.returncode == 1
    assert "FAILED failing.md::line 17 - failing.md:19: ZeroDivisionError" in failed.stdout
    assert run_vaultttc_test(tmp_path, "empty", "yes").returncode == 0
    assert run_vaultttc_test(tmp_path, "missing-folder", "yes").returncode == 2


def test_config_of_the_enclosing_vault_applies_to_a_subfolder(pytester: pytest.Pytester) -> None:
    vault = pytester.mkdir("vault")
    (vault / ".vaultttc").mkdir()
    (vault / ".vaultttc" / "config.toml").write_text('execute = true\nexclude = ["sub/drafts"]\n')
    for folder in ("sub", "sub/drafts"):
        (vault / folder).mkdir()
        shutil.copyfile(LIVING / "passing.md", vault / folder / "passing.md")
    reprec = pytester.inline_run(*QUIET, "--vault", str(vault / "sub"))
    assert {nodeid.split("::")[0] for nodeid in node_ids(reprec)} == {"vault/sub/passing.md"}
    reprec.assertoutcome(passed=6)
    pytester.inline_run(*QUIET, "vault/sub/drafts/passing.md").assertoutcome(passed=6)


def test_pytest_is_a_runtime_dependency() -> None:
    """`vaultttc test` is pytest in-process: the README's main install must bring pytest."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [re.split(r"[<>=!~\[ ]", dep, maxsplit=1)[0] for dep in project["dependencies"]]
    assert "pytest" in names
