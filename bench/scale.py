"""Scaling benchmark: `scan`, `run` and `watch` at 1k / 10k / 50k notes, each figure beside its
baseline from the same run, with the ratio, the issue-17 target and the growth per extra note.

For each size, a vault of seed-shaped notes (`bench/scan.py`'s `generate_vault`; its code tasks
are turned into `[!example]` callouts, so every question can be answered without running code)
with `strategy = "direct"` in its config and a replay file holding samples for every question:

- baseline: `frontmatter.load` + `MarkdownIt("commonmark").enable("table").parse` of every
  note, in this process (the naive reader of `bench/scan.py`);
- `run` first: the CLI asks every question (replay provider) and saves every note; the
  per-question overhead is (first run - cold run) / questions, both parsing every note;
- `scan` cold (`.vaultttc/` holds only `config.toml`), warm (nothing changed), one changed (a
  line of prose appended to one note): the CLI, `scan PATH --json`, process start included;
- `run` cold (the notes are answered, `.vaultttc/` holds only `config.toml`), warm (the second
  run: nothing to ask), one changed (a new question in one note): the CLI, process start
  included;
- peak RSS (`ru_maxrss` of each command's process, from `os.wait4`) and its growth per note;
- at `--daemon-size` notes (default 10,000): a real `vaultttc watch`
  process on a vault it had processed (its state file written as that daemon would have left
  it, as `bench/watch.py` does), timed from spawn to "watching" (and its CPU seconds); then
  `--saves` saves, one at a time, each adding a question to a different note, timed from the
  save to the answer on disk (real inotify events; the debounce is reported, and subtracted);
- 50 notes x 4 samples (self-consistency) against `tests/stub_server.py` in its own process
  with `--latency` (default 0.3 s) per request, through the real openai SDK, against the ideal:
  the same notes on the replay provider plus one latency wave.

Figures are wall seconds of one run each (CPU seconds beside them: other load on the machine
inflates wall time, not CPU). The vaults are deleted afterwards unless `--keep`.

    python bench/scale.py [--sizes 1000,10000,50000] [--daemon-size 10000] [--saves 10]
                          [--latency 0.3] [--parts wave,sizes,daemon] [--keep]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from scan import generate_vault, run_baseline, scratch, wait_for  # bench/scan.py, beside this file

from vaultttc.vault.files import digest
from vaultttc.watch.daemon import STATE_FILE
from vaultttc.watch.events import Seen, save_state

__all__ = ["main"]

CLI = (sys.executable, "-m", "vaultttc.cli.main")
STUB = Path(__file__).resolve().parents[1] / "tests" / "stub_server.py"
END = "%% vaultttc:end %%"
CONFIG = 'strategy = "direct"\n'
_TITLE = re.compile(r"^> \[!question\] (.*)$\n(?:> expect:: (\d+)$)?", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Cost:
    """One measured command: wall and CPU seconds, and its peak RSS in MB (0: in-process)."""

    wall: float
    cpu: float
    rss_mb: float = 0.0


# -- the vault -------------------------------------------------------------------------------


def _bench_question(tag: str, k: int) -> str:
    return f"\n> [!question] {tag} {k}: what is {k} plus {k}?\n> expect:: {2 * k}\n"


def prepare(root: Path, count: int, *, extra: int) -> tuple[list[Path], Path, int]:
    """Generate the vault; return its notes, its replay file and how many questions it holds.
    The replay also answers `extra` bench questions (the ones the edits below add)."""
    paths = generate_vault(root, count)
    samples: dict[str, str] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if "[!question] Implement" in text:  # a code task would need consent to run code
            path.write_text(text.replace("[!question] Implement", "[!example] Implement"), "utf-8")
            continue
        for title, expect in _TITLE.findall(text):
            samples[title] = f"The answer is {expect or 7}."
    for tag in ("Scale bench question", "Daemon bench question"):
        for k in range(extra):
            samples[f"{tag} {k}: what is {k} plus {k}?"] = f"The answer is {2 * k}."
    replay = root.parent / f"replay-{count}.jsonl"
    lines = (json.dumps({"question": q, "samples": [a] * 8}) for q, a in samples.items())
    replay.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _reset(root)
    return paths, replay, len(samples) - 2 * extra


def _reset(root: Path) -> None:
    """Cold: `.vaultttc/` holds the config and nothing else (no index, cache or state)."""
    shutil.rmtree(root / ".vaultttc", ignore_errors=True)
    (root / ".vaultttc").mkdir()
    (root / ".vaultttc" / "config.toml").write_text(CONFIG, encoding="utf-8")


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


# -- measuring -------------------------------------------------------------------------------


def command(*args: str, ok: Sequence[int] = (0, 1)) -> Cost:
    """Run the CLI in a fresh process; wall time from spawn to exit, CPU and peak RSS from
    the child's own rusage."""
    began = time.perf_counter()
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        tail = err.decode(errors="replace").splitlines()[-5:]
        raise SystemExit(f"vaultttc {' '.join(args)}: exit {proc.returncode}\n" + "\n".join(tail))
    return Cost(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def in_process(fn: Callable[[], object]) -> Cost:
    before, began = os.times(), time.perf_counter()
    fn()
    wall, after = time.perf_counter() - began, os.times()
    return Cost(wall, after.user + after.system - before.user - before.system)


# -- one size --------------------------------------------------------------------------------


def measure_size(root: Path, count: int, *, extra: int) -> tuple[dict[str, Cost], int]:
    paths, replay, questions = prepare(root, count, extra=extra)
    provider = f"replay:{replay}"
    first = command("run", str(root), "--provider", provider)
    got: dict[str, Cost] = {"run first (asks every question)": first}
    got["baseline: naive parse"] = in_process(lambda: run_baseline(paths))
    _reset(root)
    got["scan cold"] = command("scan", str(root), "--json")
    got["scan warm"] = command("scan", str(root), "--json")
    _append(paths[len(paths) // 2], "\nOne more line of prose.\n")
    got["scan one changed"] = command("scan", str(root), "--json")
    _reset(root)
    got["run cold (nothing to ask)"] = command("run", str(root), "--provider", provider)
    got["run warm (second run)"] = command("run", str(root), "--provider", provider)
    _append(paths[len(paths) // 3], _bench_question("Scale bench question", 0))
    got["run one changed (one question)"] = command("run", str(root), "--provider", provider)
    return got, questions


def report_size(count: int, got: dict[str, Cost], questions: int) -> None:
    base = got["baseline: naive parse"]
    print(f"\n{count} notes ({questions} questions), load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")  # fmt: skip
    print(f"  {'':34s} {'wall s':>8s} {'CPU s':>8s} {'peak RSS':>9s}  {'baseline/this':>13s}"
          f" {'(CPU)':>7s}  target on wall time")  # fmt: skip
    targets = {
        "scan cold": (4.0, ">= 4x"),
        "scan warm": (1 / 0.03, "<= 3% of it (>= 33x)"),
        "run warm (second run)": (1 / 0.20, "<= 20% of it (>= 5x)"),
    }
    for name, cost in got.items():
        ratio, cpu_ratio = base.wall / cost.wall, base.cpu / cost.cpu
        rss = f"{cost.rss_mb:6.0f} MB" if cost.rss_mb else "        -"
        rel = "" if name.startswith("baseline") else f"{ratio:12.2f}x {cpu_ratio:6.2f}x"
        verdict = ""
        if name in targets:
            floor, said = targets[name]
            verdict = f"{said}: {'met' if ratio >= floor else 'MISSED'}"
        print(f"  {name:34s} {cost.wall:8.3f} {cost.cpu:8.3f} {rss}  {rel:>21s}  {verdict}")
    first, cold = got["run first (asks every question)"], got["run cold (nothing to ask)"]
    per_q = (first.wall - cold.wall) / max(1, questions) * 1e3
    per_q_cpu = (first.cpu - cold.cpu) / max(1, questions) * 1e3
    verdict = "met" if per_q <= 2 else "MISSED"
    print(f"  run overhead per question (first - cold) / questions: {per_q:.2f} ms wall, "
          f"{per_q_cpu:.2f} ms CPU (target <= 2 ms: {verdict})")  # fmt: skip


def report_growth(results: dict[int, dict[str, Cost]]) -> None:
    sizes = sorted(results)
    for small, large in itertools.pairwise(sizes):
        print(f"\ngrowth per extra note, {small} -> {large} notes:")
        for name, cost in results[large].items():
            before = results[small][name]
            wall = (cost.wall - before.wall) / (large - small) * 1e3
            cpu = (cost.cpu - before.cpu) / (large - small) * 1e3
            rss = (cost.rss_mb - before.rss_mb) * 1024 / (large - small)
            mem = f", peak RSS {rss:6.2f} KB/note" if cost.rss_mb else ""
            print(f"  {name:34s} {wall:8.3f} ms/note wall, {cpu:6.3f} ms/note CPU{mem}")


# -- the daemon ------------------------------------------------------------------------------


def _spawn_watch(root: Path, replay: Path, *, log: Path, debounce: float
                 ) -> subprocess.Popen[bytes]:  # fmt: skip
    with log.open("wb") as sink:
        return subprocess.Popen(
            [*CLI, "watch", str(root), "--debounce", str(debounce), "--provider",
             f"replay:{replay}"], stdout=subprocess.DEVNULL, stderr=sink)  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()


def _lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines()


def _seed_state(root: Path, paths: list[Path]) -> None:
    """The state a daemon that had processed every note would have left (`bench/watch.py`)."""
    seen = {}
    for path in paths:
        st = path.stat()
        rel = path.relative_to(root).as_posix()
        # as if processed an hour after the notes were written (out of the racy window)
        seen[rel] = Seen.of(digest(path.read_bytes()), st, seen_ns=time.time_ns() + 3600 * 10**9)
    save_state(root / ".vaultttc" / STATE_FILE, seen)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_daemon(root: Path, count: int, *, saves: int, debounce: float) -> None:
    paths, replay, _ = prepare(root, count, extra=saves)
    _seed_state(root, paths)
    log = root.parent / "watch-stderr.txt"
    began = time.perf_counter()
    proc = _spawn_watch(root, replay, log=log, debounce=debounce)
    try:
        ready = wait_for(
            lambda: any("watching" in x for x in _lines(log)), 600, "watching", poll=0.002
        )
        startup, cpu = ready - began, _cpu_s(proc.pid)
        print(f"\ndaemon on {count} notes it had processed: {startup:.3f} s from spawn to "
              f"watching, {cpu:.3f} s CPU (target <= 0.5 s: "
              f"{'met' if startup <= 0.5 else 'MISSED'})")  # fmt: skip
        _latencies(paths, saves=saves, debounce=debounce)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
        print(f"  daemon peak RSS: {peak:.0f} MB = {peak * 1024 / count:.1f} KB per note")
    finally:
        _stop(proc)


def _answered(note: Path, want: int) -> Callable[[], bool]:
    return lambda: note.read_text(encoding="utf-8").count(END) >= want


def _latencies(paths: list[Path], *, saves: int, debounce: float) -> None:
    plain = [p for p in paths if "[!example]" not in p.read_text(encoding="utf-8")]
    chosen = plain[:: max(1, len(plain) // saves)][:saves]
    times = []
    for k, note in enumerate(chosen):
        want = note.read_text(encoding="utf-8").count(END) + 1
        _append(note, _bench_question("Daemon bench question", k))
        saved = time.perf_counter()
        done = wait_for(_answered(note, want), 60, f"the answer in {note.name}", poll=0.002)
        times.append(done - saved)
        time.sleep(debounce + 0.2)  # the daemon looks at its own save before the next one
    times.sort()
    median = times[len(times) // 2]
    print(f"  save -> answer on disk ({len(times)} saves, debounce {debounce:g} s): median "
          f"{median * 1e3:.0f} ms, max {times[-1] * 1e3:.0f} ms; minus the debounce: median "
          f"{(median - debounce) * 1e3:.0f} ms")  # fmt: skip


# -- 50 notes x 4 samples against a server with latency --------------------------------------


def _wave_vault(root: Path, notes: int) -> Path:
    root.mkdir(parents=True)
    (root / ".vaultttc").mkdir()
    (root / ".vaultttc" / "config.toml").write_text(CONFIG, encoding="utf-8")
    rows = []
    for i in range(notes):
        question = f"Wave question {i}: name a prime above {10 * i}."
        fields = "> strategy:: self-consistency\n> samples:: 4\n"
        text = f"# Wave {i}\n\n> [!question] {question}\n{fields}"
        (root / f"wave-{i:02d}.md").write_text(text, encoding="utf-8")
        rows.append(json.dumps({"question": question, "samples": [f"The answer is {i}."] * 4}))
    replay = root.parent / "replay-wave.jsonl"
    replay.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return replay


def measure_wave(top: Path, *, latency: float, notes: int = 50) -> None:
    """The 50 x 4 case: one request per sample (any server), and `server = "vllm"` (the four
    samples of a question in one request with `n = 4`)."""
    replay = _wave_vault(top / "wave-replay", notes)
    shutil.copytree(top / "wave-replay", top / "wave-server")
    shutil.copytree(top / "wave-replay", top / "wave-vllm")
    with (top / "wave-vllm" / ".vaultttc" / "config.toml").open("a", encoding="utf-8") as cfg:
        cfg.write('[providers.openai-compatible]\nserver = "vllm"\n')
    played = command("run", str(top / "wave-replay"), "--provider", f"replay:{replay}")
    ideal = played.wall + latency
    print(f"\n{notes} notes x 4 samples against a server with {latency:g} s per request; ideal "
          f"= replay {played.wall:.2f} s ({played.cpu:.2f} s CPU) + {latency:g} s = "
          f"{ideal:.2f} s")  # fmt: skip
    for name in ("wave-server", "wave-vllm"):
        stub = subprocess.Popen([sys.executable, str(STUB), str(latency)],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            assert stub.stdout is not None
            url = stub.stdout.readline().strip()
            served = command(
                "run", str(top / name), "--provider", "openai-compatible",
                "--base-url", url + "/v1", "--model", "stub-model", "--no-cache",
            )  # fmt: skip
            with urllib.request.urlopen(url + "/_stub/count") as reply:
                seen = json.load(reply)
        finally:
            stub.terminate()
            stub.wait(timeout=10)
        ratio = served.wall / ideal
        kind = "n = 4 per request" if name == "wave-vllm" else "one request per sample"
        verdict = "met" if ratio <= 1.5 else "MISSED"
        print(f"  {kind:24s} {served.wall:6.2f} s wall, {served.cpu:5.2f} s CPU, "
              f"{seen['count']} requests, peak {seen['peak_in_flight']} in flight: "
              f"{ratio:.2f}x the ideal (target <= 1.5x: {verdict})")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="comma-separated")
    parser.add_argument("--daemon-size", type=int, default=10_000)
    parser.add_argument("--saves", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--debounce", type=float, default=0.3)
    parser.add_argument("--keep", action="store_true", help="keep the generated vaults")
    parser.add_argument("--parts", default="wave,sizes,daemon", help="which to run")
    args = parser.parse_args(argv)
    sizes, parts = sorted(int(s) for s in args.sizes.split(",")), args.parts.split(",")
    with scratch("vaultttc-scale-", keep=args.keep) as top:
        if "wave" in parts:
            measure_wave(top, latency=args.latency)
        if "sizes" in parts:
            results: dict[int, dict[str, Cost]] = {}
            for count in sizes:
                results[count], questions = measure_size(top / f"v{count}", count, extra=1)
                report_size(count, results[count], questions)
            report_growth(results)
        if "daemon" in parts:
            measure_daemon(top / "daemon", args.daemon_size, saves=args.saves,
                           debounce=args.debounce)  # fmt: skip


if __name__ == "__main__":
    main()
