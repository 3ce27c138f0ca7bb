"""Benchmark `vaultttc watch` as users run it: a real daemon process on a generated vault.

With an instant provider (`replay`), in one run:

- start-up: time from spawning `vaultttc watch` to "watching", on a vault of N seed-shaped notes
  (default 10,000, from `bench/scan.py`) that a previous daemon had processed (its state file is
  written as that daemon would have left it);
- memory: the daemon's RSS (and peak RSS) once watching that vault (target < 200 MB);
- idle CPU: CPU seconds the daemon uses over `--idle` seconds with nothing changing
  (target: near zero, < 1 % of one core);
- latency: K saves, one at a time, each adding a question to a different note; the time from
  the save returning to the answer being on disk, minus the debounce period (target: median and
  p95 < 200 ms). The baseline, measured in this process, is the runner alone (`VaultSession.run`)
  on copies of the same notes with the same kind of question: `latency / runner` shows what the
  daemon adds (event delivery, the debounce timer, dispatch);
- with `--catch-up N`: a first start on a fresh vault of N notes that no daemon has seen, which
  runs every note once; its throughput and peak RSS.

Linux only (reads /proc for RSS and CPU time). Must not: leave the daemon running or keep the
vault unless `--keep` says so.

    python bench/watch.py [--notes 10000] [--saves 40] [--debounce 0.3] [--idle 10]
                          [--catch-up 10000] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from scan import generate_vault, scratch, wait_for  # bench/scan.py, beside this file

from vaultttc.engine.runner import RunOptions
from vaultttc.notes.parse import parse_note
from vaultttc.vault.files import digest
from vaultttc.vault.session import RunContext, VaultSession, vaults_for
from vaultttc.watch.daemon import STATE_FILE
from vaultttc.watch.events import Seen, save_state

__all__ = ["main"]

LATENCY_TARGET_MS = 200.0
RSS_TARGET_MB = 200.0
IDLE_TARGET = 0.01  # of one core
END = "%% vaultttc:end %%"
CLI = ("-m", "vaultttc.cli.main")  # the console script's own entry point


def _block(tag: str, k: int) -> str:
    return f"\n> [!question] {tag} {k}: what is {k} plus {k}?\n> expect:: {2 * k}\n" + (
        "> strategy:: direct\n"
    )


def _replay(path: Path, notes: list[Path], saves: int) -> None:
    """Samples for every question the edited notes hold, plus the ones the bench adds."""
    tags = ("Bench question", "Baseline question")
    questions = {f"{t} {k}: what is {k} plus {k}?": f"The answer is {2 * k}." for t in tags
                 for k in range(saves)}  # fmt: skip
    counts = dict.fromkeys(questions, 1)
    for note in notes:
        for q in parse_note(note.read_text(encoding="utf-8"), note.name).questions:
            questions[q.text] = "The answer is 5."
            counts[q.text] = int(q.fields.get("samples", "1"))  # as many as the note asks for
    lines = [json.dumps({"question": q, "samples": [a] * counts[q]}) for q, a in questions.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _plain(paths: list[Path], count: int) -> list[Path]:
    """Notes whose question is a plain one (not a code task), spread over the vault."""
    plain = [p for i, p in enumerate(paths) if i % 4 in (0, 3)]
    step = max(1, len(plain) // count)
    return plain[::step][:count]


def _seed_state(root: Path, paths: list[Path]) -> None:
    seen = {}
    for path in paths:
        st = path.stat()
        seen[path.relative_to(root).as_posix()] = Seen.of(
            digest(path.read_bytes()), st, seen_ns=time.time_ns() + 3600 * 10**9
        )  # as if processed an hour after the notes were written
    save_state(root / ".vaultttc" / STATE_FILE, seen)


def _proc(pid: int) -> tuple[float, float, float]:
    """CPU seconds, RSS MB and peak RSS MB of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return cpu, int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def _answers(note: Path, want: int) -> Callable[[], bool]:
    return lambda: note.read_text(encoding="utf-8").count(END) >= want


def _latencies(notes: list[Path], debounce: float) -> list[float]:
    out = []
    for k, note in enumerate(notes):
        text = note.read_text(encoding="utf-8")
        want = text.count(END) + 1
        with note.open("a", encoding="utf-8") as handle:
            handle.write(_block("Bench question", k))
        saved = time.perf_counter()
        done = wait_for(_answers(note, want), 60, f"the answer in {note.name}")
        out.append((done - saved - debounce) * 1000)
        time.sleep(debounce + 0.1)  # let the daemon look at its own save before the next one
    return out


def _baseline(notes: list[Path], scratch: Path, replay: Path) -> list[float]:
    """The runner alone on copies of the same notes, in this process."""
    (scratch / ".vaultttc").mkdir(parents=True)
    copies = []
    for k, note in enumerate(notes):
        copy = scratch / f"copy-{k}.md"
        copy.write_text(note.read_text(encoding="utf-8") + _block("Baseline question", k),
                        encoding="utf-8")  # fmt: skip
        copies.append(copy)
    [vault] = vaults_for([scratch])
    context = RunContext(options=RunOptions(cli={"provider": f"replay:{replay}"}), env={})

    async def run_all() -> list[float]:
        session = VaultSession.open(vault, context)
        times = []
        try:
            await session.run(copies[0])  # warm the provider and templates, as the daemon is
            for copy in copies[1:]:
                started = time.perf_counter()
                await session.run(copy)
                times.append((time.perf_counter() - started) * 1000)
        finally:
            await session.aclose()
        return times

    return asyncio.run(run_all())


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def run(root: Path, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    paths = generate_vault(root, args.notes)
    (root / ".vaultttc").mkdir(exist_ok=True)
    (root / ".vaultttc" / "config.toml").write_text('strategy = "direct"\n')
    edited = _plain(paths, args.saves)
    replay = root.parent / "replay.jsonl"
    _replay(replay, edited, args.saves)
    _seed_state(root, paths)
    print(f"vault: {len(paths)} notes generated in {time.perf_counter() - started:.1f} s")
    err = root.parent / "daemon-stderr.txt"
    with err.open("wb") as sink:
        spawned = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *CLI, "watch", str(root), "--debounce", str(args.debounce),
             "--provider", f"replay:{replay}"], stdout=subprocess.DEVNULL, stderr=sink)  # fmt: skip
    try:
        ready = wait_for(lambda: "watching" in err.read_text(errors="replace"), 300,
                          "the daemon to start", poll=0.01)  # fmt: skip
        _report(proc.pid, args, startup=ready - spawned, edited=edited, scratch=root.parent,
                replay=replay)  # fmt: skip
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        print(f"SIGTERM: exit code {code}")
    finally:
        if proc.poll() is None:
            proc.kill()
        print("daemon stderr (last lines):")
        print("\n".join(err.read_text(errors="replace").splitlines()[-3:]))


def _report(pid: int, args: argparse.Namespace, *, startup: float, edited: list[Path],
            scratch: Path, replay: Path) -> None:  # fmt: skip
    print(f"start-up to watching: {startup:.2f} s")
    time.sleep(1.0)  # let the start-up rescan's reads settle before measuring idle
    cpu0, _, _ = _proc(pid)
    time.sleep(args.idle)
    cpu1, rss, peak = _proc(pid)
    idle = (cpu1 - cpu0) / args.idle
    print(f"idle CPU: {cpu1 - cpu0:.3f} CPU s over {args.idle:.0f} s = {idle:.2%} of a core "
          f"(target < {IDLE_TARGET:.0%}: {_verdict(idle < IDLE_TARGET)})")  # fmt: skip
    print(f"RSS watching {args.notes} notes: {rss:.1f} MB, peak {peak:.1f} MB "
          f"(target < {RSS_TARGET_MB:.0f} MB: {_verdict(peak < RSS_TARGET_MB)})")  # fmt: skip
    lat = _latencies(edited, args.debounce)
    _baseline(edited, scratch / "baseline-warm-up", replay)  # imports, templates, caches
    base = _baseline(edited, scratch / "baseline", replay)
    med, p95 = statistics.median(lat), _p95(lat)
    print(f"save -> answer on disk, minus debounce ({len(lat)} saves): median {med:.1f} ms, "
          f"p95 {p95:.1f} ms (target < {LATENCY_TARGET_MS:.0f} ms: "
          f"{_verdict(p95 < LATENCY_TARGET_MS)})")  # fmt: skip
    runner = statistics.median(base)
    print(f"baseline, the runner alone on the same notes in this process: median {runner:.1f} ms"
          f"; latency / runner: {med / runner:.2f}x (the daemon adds event delivery, the "
          f"debounce timer and dispatch; under 1x is noise)")  # fmt: skip
    _, rss, peak = _proc(pid)
    print(f"RSS after the saves: {rss:.1f} MB, peak {peak:.1f} MB")


def catch_up(root: Path, count: int) -> None:
    """A first start: every note of a fresh vault runs once."""
    paths = generate_vault(root, count)
    (root / ".vaultttc").mkdir(exist_ok=True)
    (root / ".vaultttc" / "config.toml").write_text('strategy = "direct"\n')
    replay = root.parent / "replay-catch-up.jsonl"
    _replay(replay, paths, 0)
    err = root.parent / "catch-up-stderr.txt"
    with err.open("wb") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *CLI, "watch", str(root), "--debounce", "0.3",
             "--provider", f"replay:{replay}"], stdout=subprocess.DEVNULL, stderr=sink)  # fmt: skip
    try:
        done = wait_for(lambda: _ran(err) >= count, 3600, "the catch-up", poll=0.2)
        _, rss, peak = _proc(proc.pid)
        seconds = done - started
        print(f"first start on {count} new notes: all run in {seconds:.1f} s "
              f"({count / seconds:.0f} notes/s, start-up included); RSS {rss:.1f} MB, "
              f"peak {peak:.1f} MB (target < {RSS_TARGET_MB:.0f} MB: "
              f"{_verdict(peak < RSS_TARGET_MB)})")  # fmt: skip
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


def _ran(err: Path) -> int:
    return sum(1 for line in err.read_text(errors="replace").splitlines() if ".md" in line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--saves", type=int, default=40)
    parser.add_argument("--debounce", type=float, default=0.3)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--catch-up", type=int, default=0, metavar="N",
                        help="also time a first start on a fresh vault of N notes")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the generated vault")
    args = parser.parse_args(argv)
    with scratch("vaultttc-watch-bench-", keep=args.keep) as top:
        run(top / "vault", args)
        if args.catch_up:
            catch_up(top / "fresh", args.catch_up)


if __name__ == "__main__":
    main()
