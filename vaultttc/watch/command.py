"""`vaultttc watch PATH`: the command around the daemon — lock, logs, signals, the loop.

`main()` finds the vault, takes its one-daemon lock (`.vaultttc/watch.lock`), logs to
`.vaultttc/log/watch.log` (rotating), opens the vault's session, and runs `daemon.Daemon` on a
watchdog source until SIGINT/SIGTERM, then returns 0. Usage errors (a file instead of a folder,
an unusable `--provider`, a vault already watched) raise `VaultTTCError` for the CLI to report.
`watch_command` is the click command the CLI adds.

Must not: decide what runs when (`debounce`), or touch notes (`daemon` and the session do).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import click

from vaultttc.config import CONFIG_DIR, load_config
from vaultttc.engine.runner import RunOptions
from vaultttc.errors import ConfigError, Redactor
from vaultttc.providers.registry import choose_provider_name
from vaultttc.vault.files import find_vault_root
from vaultttc.vault.session import RunContext, Vault, VaultSession
from vaultttc.watch.daemon import Daemon, StatusLine, WatchSettings, WatchStats
from vaultttc.watch.events import WatchdogSource
from vaultttc.watch.lock import VaultLock, pid_alive
from vaultttc.watch.note import print_status, status_line

__all__ = ["Daemon", "WatchSettings", "WatchStats", "main", "status_line", "watch_command"]

log = logging.getLogger("vaultttc.watch.command")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def main(path: Path, *, env: Mapping[str, str], debounce: float | None = None,
         provider: str | None = None, allow_exec: bool = False, base_url: str | None = None,
         status: StatusLine = print_status) -> int:  # fmt: skip
    """Watch the vault holding `path` until SIGINT/SIGTERM; 0 then. Errors raise VaultTTCError."""
    if not path.is_dir():
        raise ConfigError(f"{path}: `vaultttc watch` needs a vault folder, not a file")
    vault = _vault(path)
    overrides: dict[str, Any] = {"provider": provider} if provider else {}
    if allow_exec:
        overrides["execute"] = True
    if provider:  # a named provider that cannot work is a usage error now, not 1 per note
        choose_provider_name(cli=provider, config=vault.config, env=env, base_url=base_url)
    options = RunOptions(cli=overrides, redact=Redactor(env))
    context = RunContext(options=options, env=env, base_url=base_url, daily=True)
    settings = WatchSettings(
        debounce_s=vault.config.debounce_s if debounce is None else debounce,
        rescan_s=vault.config.rescan_s, allow_exec=allow_exec,
    )  # fmt: skip
    lock_path = vault.root / CONFIG_DIR / "watch.lock"
    with (
        _early_signals() as early,
        VaultLock.acquire(lock_path, label=str(vault.root)) as lock,
        _logging(vault.root),
    ):
        if lock.stale_pid is not None:
            state = "still running, but not holding it" if pid_alive(lock.stale_pid) else "gone"
            log.warning("took over the lock left by pid %d (%s)", lock.stale_pid, state)
        asyncio.run(_serve(vault, context, settings, status=status, early=early))
        status("stopped")
    return 0


@contextlib.contextmanager
def _early_signals() -> Iterator[threading.Event]:
    """Remember SIGINT/SIGTERM that arrive before the event loop handles them."""
    early = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: early.set()) for sig in _SIGNALS}
    try:
        yield early
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _vault(path: Path) -> Vault:
    """The vault holding `path`, without its notes: the daemon walks the vault itself (listing
    them here cost two `resolve()` per note, most of a large vault's start-up)."""
    root = find_vault_root(path)
    return Vault(root, load_config(root))


async def _serve(vault: Vault, context: RunContext, settings: WatchSettings, *,
                 status: StatusLine, early: threading.Event) -> None:  # fmt: skip
    session = VaultSession.open(vault, context)
    source = WatchdogSource(vault.root, exclude=vault.config.exclude)
    daemon = Daemon(session, source, settings, status=status)
    loop = asyncio.get_running_loop()
    for sig in _SIGNALS:
        loop.add_signal_handler(sig, daemon.stop)
    if early.is_set():
        daemon.stop()
    try:
        await daemon.run()
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)
        await session.aclose()


@contextlib.contextmanager
def _logging(root: Path) -> Iterator[None]:
    """`.vaultttc/log/watch.log`, rotating, for the `vaultttc` loggers while the daemon runs."""
    folder = root / CONFIG_DIR / "log"
    folder.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(folder / "watch.log", maxBytes=1_000_000, backupCount=3,
                                  encoding="utf-8")  # fmt: skip
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("vaultttc")
    previous = package.level
    package.addHandler(handler)
    if package.getEffectiveLevel() > logging.INFO:
        package.setLevel(logging.INFO)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(previous)
        handler.close()


@click.command("watch")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--debounce",
    type=click.FloatRange(min=0.0),
    metavar="SECONDS",
    help="Quiet time before a changed note runs [default: 2.5, or config `debounce`].",
)
@click.option("--provider", help="local, anthropic, openai, openai-compatible or replay:PATH.")
@click.option("--base-url", help="Base URL (ending in /v1) for openai-compatible servers.")
@click.option(
    "--allow-exec",
    is_flag=True,
    help="Allow running code from notes and models (and record examples' outcomes).",
)
def watch_command(path: Path, *, debounce: float | None, provider: str | None,
                  base_url: str | None, allow_exec: bool) -> None:  # fmt: skip
    """Watch a vault and run each note that changes, once its author stops typing."""
    sys.exit(main(path, env=dict(os.environ), debounce=debounce, provider=provider,
                  allow_exec=allow_exec, base_url=base_url))  # fmt: skip
