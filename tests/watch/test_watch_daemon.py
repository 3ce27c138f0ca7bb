"""`vaultttc watch` as a real process: signals, the one-daemon-per-vault lock, stale locks.

The daemon runs as `vaultttc watch …` through the CLI's own entry point (`python -m
vaultttc.cli.main`); the slow provider is the stub server, whose
replies to "slow" questions are held until the test lets them go.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import eventually
from stub_server import Reply, StubServer, chat_body

from vaultttc.vault.files import read_note

END = "%% vaultttc:end %%"
CLI = ("-m", "vaultttc.cli.main")  # the console script's own entry point


def note_text(q: str) -> str:
    return f"# {q}\n\nProse the author wrote.\n\n> [!question] {q}\n> strategy:: direct\n\nMore.\n"


class Daemon:
    """`vaultttc watch` in a child process, its stderr in a file."""

    def __init__(self, vault: Path, *args: str) -> None:
        self.err = vault.parent / f"stderr-{time.monotonic_ns()}.txt"
        with self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, *CLI, "watch", str(vault), "--debounce", "0.2", *args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=_env(),
            )

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, check: Callable[[], object], what: str) -> None:
        """Wait until `check()` holds; fail at once, with its stderr, if the daemon exits."""

        def describe() -> str:
            code = self.proc.poll()
            state = "still running" if code is None else f"exited with {code}"
            return f"{what} (the daemon is {state}; its stderr:\n{self.stderr()})"

        eventually(lambda: check() or self.proc.poll() is not None, describe)
        if not check():
            pytest.fail(f"gave up waiting for: {describe()}", pytrace=False)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
    return {**keep, "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / ".vaultttc").mkdir(parents=True)
    return root


@pytest.fixture
def replay(tmp_path: Path) -> str:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"question": "Anything?", "samples": ["Yes."]}) + "\n")
    return f"replay:{path}"


@pytest.fixture
def held() -> Iterator[tuple[StubServer, threading.Event]]:
    """A stub server answering "fast" questions at once and holding "slow" ones."""
    release = threading.Event()

    def reply(body: dict[str, Any]) -> Reply:
        if "slow" in json.dumps(body):
            release.wait(60)
        return Reply(body=chat_body("The answer is 7."))

    stub = StubServer().start()
    stub.enqueue("chat", *([reply] * 64))
    try:
        yield stub, release
    finally:
        release.set()
        stub.stop()


def test_sigterm_mid_run_leaves_every_note_untouched_or_fully_written(
    vault: Path, held: tuple[StubServer, threading.Event]
) -> None:
    stub, _ = held
    (vault / ".vaultttc" / "config.toml").write_text(
        f'[providers.openai-compatible]\nbase_url = "{stub.openai_url}"\nmodel = "stub-model"\n',
        encoding="utf-8")  # fmt: skip
    originals = {}
    for kind, i in [(k, i) for k in ("fast", "slow") for i in range(3)]:
        path = vault / f"{kind}{i}.md"
        path.write_text(note_text(f"Which {kind} number is {i}?"), encoding="utf-8")
        originals[path] = path.read_bytes()
    daemon = Daemon(vault, "--provider", "openai-compatible")
    try:
        fast = [p for p in originals if p.name.startswith("fast")]
        daemon.wait_for(lambda: all(END in p.read_text(encoding="utf-8") for p in fast),
                        "the fast notes' answers")  # fmt: skip
        daemon.wait_for(lambda: sum("slow" in json.dumps(b) for b in stub.bodies("chat")) >= 3,
                        "every slow question in flight")  # fmt: skip
        assert daemon.stop(signal.SIGTERM) == 0, daemon.stderr()
    finally:
        daemon.kill()
    for path, before in originals.items():
        now = path.read_bytes()
        if path.name.startswith("slow"):
            assert now == before, f"{path.name} was written after SIGTERM"
        else:  # the whole answer, and the author's text around it
            loaded = read_note(path)
            [asked] = loaded.note.questions
            assert asked.answer is not None and "7" in asked.answer.body
            assert loaded.note.changelog is not None
            assert "Prose the author wrote." in loaded.note.text and "More." in loaded.note.text
    assert not list(vault.rglob("*.vaultttc-tmp")), "a temp file was left behind"
    assert "stopped" in daemon.stderr()


def test_a_second_daemon_on_the_same_vault_is_refused(vault: Path, replay: str) -> None:
    first = Daemon(vault, "--provider", replay)
    try:
        first.wait_for(lambda: "watching" in first.stderr(), "the first daemon to start")
        second = subprocess.run(
            [sys.executable, *CLI, "watch", str(vault), "--provider", replay],
            capture_output=True, text=True, timeout=60, env=_env())  # fmt: skip
        assert second.returncode == 2
        assert "already watched" in second.stderr and f"pid {first.proc.pid}" in second.stderr
        assert first.proc.poll() is None, "the refused daemon stopped the first one"
        assert first.stop(signal.SIGINT) == 0
    finally:
        first.kill()


def test_a_stale_lock_from_a_killed_daemon_is_taken_over(vault: Path, replay: str) -> None:
    ghost = subprocess.Popen([sys.executable, "-c", "pass"])
    ghost.wait()
    lock = vault / ".vaultttc" / "watch.lock"
    lock.write_text(f"{ghost.pid}\n")
    daemon = Daemon(vault, "--provider", replay)
    try:
        daemon.wait_for(lambda: lock.read_text().strip() == str(daemon.proc.pid), "the lock taken")
        log = vault / ".vaultttc" / "log" / "watch.log"
        daemon.wait_for(lambda: log.is_file() and f"pid {ghost.pid} (gone)" in log.read_text(),
                        "the take-over logged")  # fmt: skip
        assert daemon.stop(signal.SIGTERM) == 0
    finally:
        daemon.kill()
    second = Daemon(vault, "--provider", replay)  # a released lock is free again
    try:
        second.wait_for(lambda: "watching" in second.stderr(), "a new daemon after a clean exit")
        assert second.stop() == 0
    finally:
        second.kill()
