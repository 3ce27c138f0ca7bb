"""Benchmark `vaultttc scan` against a naive parse of the same notes, from one run.

Generates N notes (default 10,000) shaped like the seed note — full frontmatter, Korean/English
headings, bullet lists, a few python fences, a question callout (some with fields, some code
tasks), a decision table, an Obsidian comment now and then, a `🕓 Changelog` table — into
nested folders of a temp dir, then times, in this one process:

- baseline: `frontmatter.load` + `MarkdownIt("commonmark").enable("table").parse` of every
  note, single process (what a straightforward tool would do);
- cold: `vaultttc.vault.scan.scan_paths([root])` with no `.vaultttc/` index;
- warm: the same call again, nothing changed.

Prints notes/second for each (and the CPU seconds, which other load on the machine does not
inflate the way it does wall time), cold/baseline (target >= 2x) and warm wall time (target
< 0.5 s). `--profile cold|warm` adds a cProfile of that phase (one worker for cold, so the profile
sees the parsing). `--explain` adds a per-stage CPU breakdown and end-to-end runs of prototype
optimisations that live only in this file (fewer markdown-it block rules; no `table` rule with
the changelog table read from its paragraph; an `os.scandir` walk and a GC-paused index load),
each checked to give the same entries as the shipped scan. The notes are deleted afterwards
unless `--keep`.

    python bench/scan.py [--notes 10000] [--profile cold|warm] [--explain] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import pstats
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from vaultttc.config import CONFIG_DIR
from vaultttc.notes import blocks
from vaultttc.notes.blocks import parse_blocks
from vaultttc.notes.model import Changelog, Span
from vaultttc.vault.files import iter_notes
from vaultttc.vault.scan import scan_paths

__all__ = ["Timing", "generate_vault", "main", "run_baseline", "run_scan"]

COLD_TARGET = 2.0
WARM_TARGET_S = 0.5
_FOLDERS = (
    "10_Wiki/Topics/Math", "10_Wiki/Topics/LLM", "10_Wiki/Topics/Python", "10_Wiki/Concepts",
    "20_Projects/Katas", "20_Projects/vaultttc", "30_Reading/Papers", "40_Journal/2026",
)  # fmt: skip
_WORDS = (
    "cache", "latency", "sampling", "verifier", "budget", "thinking", "vote", "majority",
    "search", "beam", "tree", "token", "prefix", "window", "batch", "router", "model", "prompt",
    "answer", "proof", "lemma", "modulus", "prime", "divisor", "index", "scan", "parse",
    "fence", "table", "changelog", "schema", "retry", "backoff", "queue", "shard", "replica",
)  # fmt: skip
_KO = ("매", "핵심", "결정", "기준", "패턴", "검증", "응용", "추론", "계산", "예산", "요약")


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def _frontmatter(rng: random.Random, i: int, *, title: str, folder: str) -> str:
    tags = "\n".join(f"  - {rng.choice(_WORDS)}-{k}" for k in range(rng.randint(2, 5)))
    aliases = "\n".join(f"  - {_words(rng, 2).title()}" for _ in range(rng.randint(1, 3)))
    return (
        f"---\nid: wiki-2026-{i:05d}-{title.lower().replace(' ', '-')}\n"
        f"title: {title} ({_KO[i % 11]})\n"
        f"category: {folder}\nstatus: verified\ncanonical_id: self\naliases:\n{aliases}\n"
        f"duplicate_of: none\nsource_trust_level: {rng.choice('ABC')}\n"
        f"confidence_score: {rng.random():.2f}\nverification_status: pending\ntags:\n{tags}\n"
        f"raw_sources: []\nlast_reinforced: 2026-05-{rng.randint(1, 28):02d}\n"
        "github_commit: pending\ntech_stack:\n  language: Python\n"
        "  framework: vLLM / Anthropic SDK / OpenAI SDK\n---\n"
    )


def _fence(rng: random.Random, n: int) -> str:
    body = "\n".join(
        f"    value_{k} = compute_{rng.choice(_WORDS)}(x, k={k})  # {_words(rng, 3)}"
        for k in range(rng.randint(3, 10))
    )
    return f"```python\ndef step_{n}(x):\n{body}\n    return x\n```\n"


def _question(rng: random.Random, i: int) -> str:
    kind = i % 4
    head = f"> [!question] What is {rng.randint(2, 999)} mod {rng.randint(2, 97)} (note {i})?\n"
    if kind == 0:
        return head + f"> expect:: {rng.randint(0, 96)}\n"
    if kind == 1:
        return head + "> strategy:: self-consistency\n> samples:: 8\n"
    if kind == 2:
        return (
            f"> [!question] Implement `f_{i}(xs)` returning the sorted unique items.\n\n"
            f'```python\ndef f_{i}(xs: list[int]) -> list[int]:\n    """Sorted, unique."""\n```\n\n'
            f"```python test\nassert f_{i}([3, 1, 3]) == [1, 3]\n```\n"
        )
    return head


def _note(rng: random.Random, i: int, folder: str) -> str:
    title = f"{_words(rng, 3).title()} {i}"
    bullets = "\n".join(f"- **{_words(rng, 2)}** — {_words(rng, 12)}." for _ in range(5))
    fences = "\n".join(
        f"### {_words(rng, 2).title()}\n\n{_fence(rng, k)}" for k in range(rng.randint(2, 5))
    )
    table = "\n".join(f"| {_words(rng, 3)} | {_words(rng, 4)} |" for _ in range(rng.randint(3, 6)))
    comment = f"%%\n{_words(rng, 8)}\n%%\n\n" if i % 7 == 0 else ""
    rows = "\n".join(f"| 2026-05-{d:02d} | {_words(rng, 5)} |" for d in range(1, rng.randint(3, 6)))
    head = _frontmatter(rng, i, title=title, folder=folder)
    return (
        f"{head}\n# {title}\n\n## 매 한 줄\n\n{_words(rng, 40)}.\n\n"
        f"## 매 핵심\n\n### 매 두 axes\n\n{bullets}\n\n1. {_words(rng, 6)}\n2. {_words(rng, 6)}\n\n"
        f"## 💻 패턴\n\n{fences}\n{comment}## ❓ 질문\n\n{_question(rng, i)}\n"
        f"## 매 결정 기준\n\n| 상황 | Approach |\n|---|---|\n{table}\n\n"
        f"## 안티패턴\n\n- {_words(rng, 10)}\n- {_words(rng, 10)}\n\n"
        f"## 🕓 Changelog\n\n| 날짜 | 변경 |\n|---|---|\n{rows}\n"
    )


def generate_vault(root: Path, count: int, *, seed: int = 20260512) -> list[Path]:
    """Write `count` seed-shaped notes under `root`, spread over nested folders."""
    rng = random.Random(seed)
    paths: list[Path] = []
    for i in range(count):
        folder = _FOLDERS[i % len(_FOLDERS)]
        path = root / folder / f"note-{i:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_note(rng, i, folder), encoding="utf-8")
        paths.append(path)
    return paths


def run_baseline(paths: list[Path]) -> int:
    """The naive reader: python-frontmatter, then a full markdown-it parse; returns tokens."""
    md = MarkdownIt("commonmark").enable("table")
    tokens = 0
    for path in paths:
        post = frontmatter.load(path)
        tokens += len(md.parse(post.content))
    return tokens


def run_scan(root: Path, *, workers: int | None = None) -> int:
    result = scan_paths([root], workers=workers)
    assert result.errors == 0, [e["error"] for e in result.entries if e["error"]][:3]
    return len(result.entries)


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall seconds, and CPU seconds of this process plus the children it reaped (workers)."""

    wall: float
    cpu: float


def _measure(fn: Callable[[], object]) -> Timing:
    before, began = os.times(), time.perf_counter()
    fn()
    wall, after = time.perf_counter() - began, os.times()
    cpu = sum(after[:4]) - sum(before[:4])  # user, system, children user, children system
    return Timing(wall, cpu)


def _profile(fn: Callable[[], object], *, top: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def _interleaved(
    stages: dict[str, Callable[[list[Path]], object]], paths: list[Path], *, rounds: int = 2
) -> dict[str, float]:
    """CPU ms/note per stage: rounds of 100 notes, the stages in a shuffled order each round, so
    load from other processes, caches and GC fall on every stage alike."""
    rng = random.Random(0)
    total = dict.fromkeys(stages, 0.0)
    for _ in range(rounds):
        for start in range(0, len(paths), 100):
            chunk = paths[start : start + 100]
            for name in rng.sample(list(stages), len(stages)):
                began = time.process_time()
                stages[name](chunk)
                total[name] += time.process_time() - began
    return {name: seconds / (len(paths) * rounds) * 1e3 for name, seconds in total.items()}


def _block_parser(*without: str) -> MarkdownIt:
    """vaultttc's block-only parser, built by its own recipe, minus the named block rules."""
    md = blocks._make_parser()
    if without:
        md.block.ruler.disable(list(without))
    return md


_FEWER = ("reference", "html_block", "lheading")


def _each(fn: Callable[[Path], object]) -> Callable[[list[Path]], None]:
    """A stage that drops each result at once, as a real scan does (kept token lists would
    put GC pressure on whichever stage keeps them)."""

    def stage(chunk: list[Path]) -> None:
        for path in chunk:
            fn(path)

    return stage


def _cold_stages(sample: list[Path]) -> dict[str, Callable[[list[Path]], object]]:
    full = MarkdownIt("commonmark").enable("table")
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    bodies = {p: frontmatter.load(p).content for p in sample}
    raws = {p: p.read_text(encoding="utf-8").split("---\n", 2)[1] for p in sample}
    lines = {p: bodies[p].splitlines() for p in sample}
    return {
        "baseline: frontmatter.load + full markdown-it parse": _each(
            lambda p: full.parse(frontmatter.load(p).content)
        ),
        "vaultttc scan's per-note work (scan_paths on files)": lambda c: scan_paths(c),
        "  blocks.parse_blocks (markdown-it block pass + extraction)": _each(
            lambda p: parse_blocks(bodies[p], offset=0, lines=lines[p], path=str(p))
        ),
        "    markdown-it block pass alone (blocks._MD)": _each(
            lambda p: blocks._MD.parse(bodies[p])
        ),
        "  YAML load (C scanner, Python constructor)": _each(
            lambda p: yaml.load(raws[p], Loader=loader)
        ),
    }


def _explain_cold(paths: list[Path]) -> None:
    sample = paths[: min(len(paths), 2000)]
    costs = _interleaved(_cold_stages(sample), sample)
    base = next(iter(costs.values()))
    print(f"\ncold, CPU per note over {len(sample)} notes x 2 (interleaved, shuffled rounds):")
    for name, cost in costs.items():
        print(f"  {name:58s} {cost:6.3f} ms  (baseline/this {base / cost:4.2f}x)")
    cores = os.cpu_count() or 1
    per_note = costs["vaultttc scan's per-note work (scan_paths on files)"]
    print(f"  ideal cold/baseline on {cores} idle cores: {base / per_note * cores:.2f}x")


def _changelog_from_paragraph(
    tokens: Sequence[Token], offset: int, lines: Sequence[str]
) -> Changelog | None:
    """Prototype for a parser without the `table` rule: the changelog table is then the
    paragraph under the heading whose lines are `|` rows (header, delimiter, body)."""
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and "changelog" in tokens[i + 1].content.casefold():
            assert token.map is not None
            heading = Span(token.map[0] + offset, token.map[1] + offset)
            found = _table_paragraph(
                tokens[i + 3 :], int(token.tag[1:]), offset=offset, lines=lines
            )
            if found is None:
                return Changelog(heading, (), None, heading.end)
            return Changelog(heading, found[0], found[1], found[1].end)
    return None


def _table_paragraph(
    tokens: Sequence[Token], level: int, *, offset: int, lines: Sequence[str]
) -> tuple[tuple[str, ...], Span] | None:
    for token in tokens:
        if token.type == "heading_open" and int(token.tag[1:]) <= level:
            return None
        if token.type != "paragraph_open" or token.map is None:
            continue
        start, end = token.map[0] + offset, token.map[1] + offset
        rows = [n for n in range(start, end - 1) if lines[n].lstrip().startswith("|")]
        first = next((n for n in rows if _DELIMITER.match(lines[n + 1])), None)
        if first is not None:
            last = first + 1
            while last + 1 < end and "|" in lines[last + 1]:
                last += 1
            cells = lines[first].strip().strip("|").split("|")
            return tuple(c.strip() for c in cells), Span(first, last + 1)
    return None


_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def _cold_scan(root: Path) -> tuple[Timing, list[dict[str, Any]]]:
    shutil.rmtree(root / CONFIG_DIR, ignore_errors=True)
    entries: list[dict[str, Any]] = []
    timing = _measure(lambda: entries.extend(scan_paths([root]).entries))
    return timing, entries


def _prototype_cold(root: Path, baseline: Timing) -> None:
    """End to end, alternating, best of 2: the shipped cold scan against prototypes swapped
    into `vaultttc.notes.blocks` (forked workers inherit them); entries must stay identical."""
    shipped = (blocks._MD, blocks._changelog)
    variants = {
        "as shipped": shipped,
        "without " + "/".join(_FEWER): (_block_parser(*_FEWER), blocks._changelog),
        "without table too (changelog from its paragraph)": (
            _block_parser("table", *_FEWER),
            _changelog_from_paragraph,
        ),
    }
    timings: dict[str, list[Timing]] = {name: [] for name in variants}
    results: dict[str, list[dict[str, Any]]] = {}
    for name in list(variants) * 2:
        blocks._MD, blocks._changelog = variants[name]
        try:
            timing, results[name] = _cold_scan(root)
        finally:
            blocks._MD, blocks._changelog = shipped
        timings[name].append(timing)
    count = len(results["as shipped"])
    print("\ncold again, end to end, alternating, best of 2:")
    for name, runs in timings.items():
        wall, cpu = min(t.wall for t in runs), min(t.cpu for t in runs)
        same = "same entries" if results[name] == results["as shipped"] else "DIFFERENT entries"
        print(f"  {name:50s} {count / wall:5.0f} notes/s ({baseline.wall / wall:.2f}x), "
              f"CPU {cpu / count * 1e3:.3f} ms/note "
              f"({baseline.cpu / cpu:.2f}x), {same}")  # fmt: skip


def _scandir_walk(root: Path) -> dict[str, os.stat_result]:
    """Prototype: one `stat` per note from `os.scandir`, relative paths as plain strings."""
    found: dict[str, os.stat_result] = {}
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        stack.append((entry.path, prefix + entry.name + "/"))
                elif entry.name.endswith(".md") and not entry.is_symlink():
                    found[prefix + entry.name] = entry.stat()
    return found


def _prototype_warm(root: Path) -> list[dict[str, Any]]:
    """Prototype of the whole warm path: scandir walk, GC-paused index load, (size, mtime) check."""
    gc.disable()  # the index is ~60k small dicts: GC passes while building them cost ~30%
    try:
        known = json.loads((root / CONFIG_DIR / "index.json").read_text("utf-8"))["notes"]
    finally:
        gc.enable()
    stats = _scandir_walk(root)
    entries = []
    for rel in sorted(stats):
        entry, st = known[rel], stats[rel]
        assert (entry["size"], entry["mtime_ns"]) == (st.st_size, st.st_mtime_ns), rel
        entries.append({k: v for k, v in entry.items() if k not in ("size", "mtime_ns", "hash")})
    return entries


def _explain_warm(root: Path) -> None:
    index = root / CONFIG_DIR / "index.json"
    stages: dict[str, Callable[[], object]] = {
        "scan_paths warm (as shipped)": lambda: scan_paths([root]),
        "  of which walk: iter_notes + Path.stat": lambda: [
            (p.relative_to(root).as_posix(), p.stat()) for p in iter_notes(root)
        ],
        "  of which index: read + json.loads": lambda: json.loads(
            index.read_text(encoding="utf-8")
        ),
        "prototype: os.scandir walk + index load with GC paused": lambda: _prototype_warm(root),
    }
    same = _prototype_warm(root) == scan_paths([root]).entries
    print(f"\nwarm, wall time, best of 5 (index {index.stat().st_size / 1e6:.1f} MB; "
          f"prototype gives {'the same' if same else 'DIFFERENT'} entries):")  # fmt: skip
    for name, stage in stages.items():
        print(f"  {name:58s} {min(_measure(stage).wall for _ in range(5)):6.3f} s")


def _report(count: int, baseline: Timing, *, cold: Timing, warm: Timing) -> None:
    """Notes/s from wall time; CPU beside it, since other processes on the machine slow the
    wall clock (and starve the worker pool) without changing the work done."""
    rows = (
        ("baseline (frontmatter + full markdown-it, 1 process)", baseline),
        ("vaultttc scan cold", cold),
        ("vaultttc scan warm", warm),
    )
    print(f"notes: {count}  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for label, t in rows:
        print(
            f"{label:54s} {count / t.wall:9.0f} notes/s  ({t.wall:6.3f} s wall, {t.cpu:6.2f} s CPU)"
        )
    ratio = baseline.wall / cold.wall
    print(f"cold / baseline: {ratio:.2f}x (target >= {COLD_TARGET:.0f}x: "
          f"{'met' if ratio >= COLD_TARGET else 'MISSED'}); "
          f"CPU per note baseline / cold: {baseline.cpu / cold.cpu:.2f}x")  # fmt: skip
    print(f"warm wall time: {warm.wall:.3f} s (target < {WARM_TARGET_S} s: "
          f"{'met' if warm.wall < WARM_TARGET_S else 'MISSED'})")  # fmt: skip


@contextlib.contextmanager
def scratch(prefix: str, *, keep: bool) -> Iterator[Path]:
    """A fresh temporary folder for a benchmark's vaults: removed at the end, or with `keep`,
    left in place and named."""
    top = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield top
    finally:
        if keep:
            print(f"kept at {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)


def wait_for(check: Callable[[], bool], timeout: float, what: str, *, poll: float = 0.001
             ) -> float:  # fmt: skip
    """Poll `check` until it holds (the time it did), or exit naming `what` after `timeout`."""
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(poll)
    return time.perf_counter()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--profile", choices=("cold", "warm"))
    parser.add_argument("--explain", action="store_true", help="per-stage breakdown")
    parser.add_argument("--keep", action="store_true", help="keep the generated vault")
    args = parser.parse_args(argv)
    with scratch("vaultttc-bench-", keep=args.keep) as root:
        paths = generate_vault(root, args.notes)
        baseline = _measure(lambda: run_baseline(paths))
        shutil.rmtree(root / CONFIG_DIR, ignore_errors=True)
        cold = _measure(lambda: run_scan(root))
        warm = _measure(lambda: run_scan(root))
        _report(len(paths), baseline, cold=cold, warm=warm)
        if args.explain:
            _explain_cold(paths)
            _explain_warm(root)
            _prototype_cold(root, baseline)
        if args.profile == "cold":
            shutil.rmtree(root / CONFIG_DIR, ignore_errors=True)
            _profile(lambda: run_scan(root, workers=1))
        elif args.profile == "warm":
            _profile(lambda: run_scan(root))


if __name__ == "__main__":
    main()
