"""The pytest plugin for living documentation: a note's examples collected and run as tests.

Registered through the `pytest11` entry point; the only module of vaultttc that imports pytest.
`pytest --vault PATH` collects the notes of a vault (as `vault.files.iter_notes` walks it) and `.md`
files named on the command line; each example is an item named `notes/x.md::line 42`. The first
item of a note runs all of the note's examples in one child process (`examples.run_examples`);
its siblings reuse the report. Without consent (`--allow-exec`, `ttc.execute: true`, or
`execute = true` in the vault config) every item is skipped and nothing runs; where the OS
gives no isolation, nothing runs either without `--allow-unsandboxed`. A note that does
not parse is one failing item with the one-line error. `--vault-record` writes outcomes back;
`--vault-update` rewrites output fences that alone failed their examples (`living.update`).
A vault's `.vaultttc/setup.md` runs before each note's examples; setup fences are no items.
With pytest-xdist (`vaultttc test -n K`: `--dist loadfile`), each note's items go to one
worker in order, so its examples still share one child process; each worker records and
updates its own notes and hands its summary lines to the controller (`workeroutput`).

`main()` is what `vaultttc test` calls: pytest in-process on the given paths, with conftest
files, ini files and python test files of the vault ignored, so that testing an untrusted vault
runs nothing without consent.

Must not: run example code itself, or collect anything when neither `--vault` nor a `.md`
path was given (the plugin is loaded into every pytest run).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from vaultttc.config import VaultConfig, load_config
from vaultttc.errors import VaultTTCError
from vaultttc.living.examples import (
    ExampleOptions,
    ExampleResult,
    ExamplesReport,
    run_examples,
    skip_reason,
)
from vaultttc.living.record import may_execute, record_outcome, run_options
from vaultttc.living.repair import NoteRun, repair_all, repair_options
from vaultttc.living.update import update_outputs
from vaultttc.notes.model import Example, Note
from vaultttc.sandbox.detect import unsandboxed
from vaultttc.vault.files import find_vault_root, iter_notes, read_note

__all__ = ["main"]

_DEFAULTS = ExampleOptions()
SETUP_NOTE = Path(".vaultttc") / "setup.md"


@dataclass(slots=True)
class _State:
    """Per-session: the `--vault` roots, vault configs, and the reports waiting to be recorded."""

    roots: tuple[Path, ...]
    configs: dict[Path, VaultConfig] = field(default_factory=dict)
    setups: dict[Path, Note | None] = field(default_factory=dict)
    runs: list[NoteRun] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)

    def root_of(self, path: Path) -> Path:
        """The vault a note or folder belongs to: the nearest `.vaultttc/` or `.obsidian/`."""
        return find_vault_root(path if path.is_dir() else path.parent)

    def config(self, root: Path) -> VaultConfig:
        if root not in self.configs:
            self.configs[root] = load_config(root)
        return self.configs[root]

    def setup(self, root: Path) -> Note | None:
        """The vault's `.vaultttc/setup.md`, whose python fences run before every note's."""
        if root not in self.setups:
            path = root / SETUP_NOTE
            self.setups[root] = read_note(path, display=str(path)).note if path.is_file() else None
        return self.setups[root]


_STATE = pytest.StashKey[_State]()
_UNSANDBOXED = pytest.StashKey[contextlib.ExitStack]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vaultttc", "vaultttc living documentation")
    group.addoption(
        "--vault",
        action="append",
        default=[],
        metavar="PATH",
        help="collect the examples of the notes under PATH (repeatable)",
    )
    group.addoption(
        "--allow-exec",
        action="store_true",
        default=False,
        help="consent to run the vault's code (else every example is skipped)",
    )
    group.addoption(
        "--allow-unsandboxed",
        action="store_true",
        default=False,
        help="where the OS gives no isolation, run the examples anyway, without it",
    )
    group.addoption(
        "--vault-record",
        action="store_true",
        default=False,
        help="write verification_status / last_reinforced and a changelog row",
    )
    group.addoption(
        "--vault-update",
        action="store_true",
        default=False,
        help="rewrite each output fence whose example failed only on its output",
    )
    group.addoption(
        "--vault-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"per-example timeout (default: config `timeout`, else {_DEFAULTS.timeout_s:g})",
    )
    group.addoption(
        "--vault-memory",
        type=int,
        default=_DEFAULTS.memory_mb,
        metavar="MB",
        help="address-space limit of a note's example process",
    )
    group.addoption(
        "--vault-ellipsis",
        action="store_true",
        default=False,
        help="`...` in every output fence matches any text (doctest ELLIPSIS)",
    )
    repair_options(group)


def pytest_configure(config: pytest.Config) -> None:
    vaults = [str(v) for v in config.getoption("vault")]
    config.stash[_STATE] = _State(tuple(Path(v).resolve() for v in vaults))
    if config.getoption("allow_unsandboxed"):
        config.stash[_UNSANDBOXED] = contextlib.ExitStack()
        config.stash[_UNSANDBOXED].enter_context(unsandboxed())
    if vaults:
        given = config.args_source == pytest.Config.ArgsSource.ARGS
        config.args = [*config.args, *vaults] if given else vaults


def pytest_unconfigure(config: pytest.Config) -> None:
    with contextlib.suppress(KeyError):
        config.stash[_UNSANDBOXED].close()


def pytest_report_header(config: pytest.Config) -> str | None:
    if not config.stash[_STATE].roots:
        return None
    consent = "allowed" if config.getoption("allow_exec") else "per note / vault config"
    consent += ", unsandboxed" * config.getoption("allow_unsandboxed")
    return f"vaultttc: vaults {', '.join(map(str, config.stash[_STATE].roots))}; exec {consent}"


def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if path.resolve() in parent.config.stash[_STATE].roots:
        return VaultDirectory.from_parent(parent, path=path)
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".md" and parent.session.isinitpath(file_path):
        return NoteFile.from_parent(parent, path=file_path)
    return None


class VaultDirectory(pytest.Directory):
    """A vault root: its notes as `vault.files.iter_notes` finds them, nothing else."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        state = self.config.stash[_STATE]
        root = state.root_of(self.path)
        for path in iter_notes(root, self.path, exclude=state.config(root).exclude):
            yield NoteFile.from_parent(self, path=path)


class NoteFile(pytest.File):
    """One note: its examples as items, run together the first time one of them runs."""

    note: Note | None = None
    report: ExamplesReport | None = None

    def collect(self) -> Iterator[pytest.Item]:
        try:
            self.note = read_note(self.path, display=self.display).note
        except (VaultTTCError, OSError) as exc:
            yield BrokenNote.from_parent(self, name="note", message=str(exc))
            return
        allowed = self._allowed(self.note)
        for index, example in enumerate(self.note.examples):
            if example.setup:
                continue
            item = ExampleItem.from_parent(self, name=f"line {example.line}", index=index)
            reason = skip_reason(example, allowed=allowed)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))
            yield item

    @property
    def display(self) -> str:
        """The note's path as users see it: relative to where pytest was started, if inside."""
        start = self.config.invocation_params.dir
        return (
            str(self.path.relative_to(start)) if self.path.is_relative_to(start) else str(self.path)
        )

    def _allowed(self, note: Note) -> bool:
        state = self.config.stash[_STATE]
        config = state.config(state.root_of(self.path))
        return may_execute(note, allow_exec=self.config.getoption("allow_exec"), config=config)

    def result(self, index: int) -> ExampleResult:
        if self.report is None:
            assert self.note is not None
            state, root = self.config.stash[_STATE], self.config.stash[_STATE].root_of(self.path)
            options, setup = self._options(self.note), state.setup(root)
            allowed = self._allowed(self.note)
            self.report = run_examples(self.note, allowed=allowed, options=options, setup=setup)
            state.runs.append(NoteRun(self.path, root, self.report, options, setup, allowed))
        return self.report.results[index]

    def _options(self, note: Note) -> ExampleOptions:
        state = self.config.stash[_STATE]
        return run_options(
            note,
            state.config(state.root_of(self.path)),
            timeout_s=self.config.getoption("vault_timeout"),
            memory_mb=self.config.getoption("vault_memory"),
            ellipsis=self.config.getoption("vault_ellipsis"),
        )


class ExampleFailed(Exception):
    """Raised by an example item whose example failed; carries the result to report."""

    def __init__(self, result: ExampleResult) -> None:
        super().__init__(result.message)
        self.result = result


class ExampleItem(pytest.Item):
    def __init__(self, *, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index

    @property
    def note_file(self) -> NoteFile:
        assert isinstance(self.parent, NoteFile)
        return self.parent

    @property
    def example(self) -> Example:
        assert self.note_file.note is not None
        return self.note_file.note.examples[self.index]

    def runtest(self) -> None:
        result = self.note_file.result(self.index)
        if result.status == "failed":
            raise ExampleFailed(result)
        if result.status != "passed":
            raise pytest.skip.Exception(result.message, _use_item_location=True)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ExampleFailed):
            return excinfo.value.result.describe(self.note_file.display)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.example.line - 1, f"{self.note_file.display}:{self.example.line}"


class BrokenNote(pytest.Item):
    """Stands for a note that could not be read or parsed: fails with the one-line error."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def runtest(self) -> None:
        raise VaultTTCError(self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return self.message

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.message


def pytest_sessionfinish(session: pytest.Session) -> None:
    config, state = session.config, session.config.stash.get(_STATE, None)
    if state is None:
        return
    if config.getoption("vault_update"):
        state.recorded += _each(state, _update, failed="not updated")
    if config.getoption("vault_repair"):
        env = dict(os.environ)
        state.recorded += repair_all(state.runs, config.getoption, state.config, env=env)
    if config.getoption("vault_record"):
        state.recorded += _each(state, _record, failed="not recorded")
    output = getattr(config, "workeroutput", None)  # an xdist worker's, for the controller
    if output is not None:
        output["vaultttc"] = list(state.recorded)


def _each(
    state: _State, act: Callable[[Path, Path, ExamplesReport], str | None], *, failed: str
) -> list[str]:
    lines: list[str] = []
    for run in state.runs:
        try:
            if line := act(run.path, run.root, run.report):
                lines.append(line)
        except (VaultTTCError, OSError) as exc:
            lines.append(f"{failed}: {exc}")
    return lines


def _update(path: Path, _root: Path, report: ExamplesReport) -> str | None:
    stale = update_outputs(path, report)
    return f"updated {stale} output fence(s) in {report.path}" if stale else None


def _record(path: Path, root: Path, report: ExamplesReport) -> str | None:
    recorded = record_outcome(path, report, today=date.today(), vault_root=root)
    return f"recorded {report.path}" if recorded else None


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """An xdist worker ended: keep its record/update lines for the controller's summary."""
    lines = getattr(node, "workeroutput", {}).get("vaultttc", [])
    node.config.stash[_STATE].recorded.extend(lines)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None and state.recorded:
        terminalreporter.section("vaultttc")
        for line in sorted(state.recorded):  # workers end in any order
            terminalreporter.write_line(line)


def main(
    paths: Sequence[str | os.PathLike[str]],
    *,
    allow_exec: bool = False,
    record: bool = False,
    extra_args: Sequence[str] = (),
    unsandboxed: bool = False,
    update: bool = False,
    workers: str | None = None,
) -> int:
    """`vaultttc test`: run pytest in-process on `paths` (vaults or notes) with this plugin.

    `workers` ("auto" or a number) runs notes in parallel through pytest-xdist, one note to
    a worker (`--dist loadfile`), its examples in document order.

    Returns 0 when every example passed or skipped (or there were none), 1 when one failed
    or a note could not be read, 2 on bad usage or an internal error.
    """
    args = [
        "-p", "vaultttc", "-p", "no:cacheprovider", "--noconftest",
        "-c", os.devnull, "--rootdir", os.getcwd(), "-o", "python_files=", "--assert=plain",
        "-rfEs",
        *(f"--vault={os.fspath(p)}" for p in paths),
    ]  # fmt: skip
    if allow_exec:
        args.append("--allow-exec")
    if record:
        args.append("--vault-record")
    if update:
        args.append("--vault-update")
    if unsandboxed:
        args.append("--allow-unsandboxed")
    if workers is not None:
        args += ["-p", "xdist", "-n", workers, "--dist", "loadfile"]
    code = int(pytest.main([*args, *extra_args]))
    return {0: 0, 1: 1, 5: 0}.get(code, 2)
