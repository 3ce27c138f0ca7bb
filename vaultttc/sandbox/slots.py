"""Inside the jail, with namespaces: the batch's runs handed to cells that outlive one run.

Loaded by `jail.py` by path (stdlib only). A slot is a cell (`view.cell`: new mount, PID and
IPC namespaces inside the jail's, with its own /proc, /tmp and /dev/shm) whose pid 1 makes
the runs the jail hands it, one after another (`runs.run_one`): after each, everything the run
left in the cell is killed or removed (processes, SysV IPC objects, /tmp and /dev/shm) before
its result goes back, so the next run finds the cell as new, and a slot whose sweep fails
ends instead of taking another run. Making the namespaces once per slot, not once per run,
spares every run two forks and a cell's making and unmaking.

`schedule` keeps one slot busy and opens another, up to `config["parallel"]`, only when every
slot's run has gone on for `runs.patience_of`: quick runs go one after another, slow or
looping ones do not hold up the rest. A slot that dies (killed for memory, say) takes only
its own run with it; one that overruns its run's time by `GRACE` is killed.

Must not: import anything but the stdlib and its stdlib-only siblings, or decide policy.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import time

from vaultttc.sandbox import children, runs, view

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from vaultttc.sandbox.shapes import Config

__all__ = ["GRACE", "schedule"]

GRACE = 5.0  # seconds past a run's time after which its slot is killed


class _Slot:
    """The jail's handle on one slot: where orders go, where results come from."""

    def __init__(self, config: Config, sources: list[str], data: list[Any]) -> None:
        orders, self.orders = os.pipe()
        self.results, results = os.pipe()
        given = (sources, data)
        self.pid = runs.fork(lambda: _serve(config, given, orders=orders, results=results))
        os.close(orders)
        os.close(results)
        self.index: int | None = None  # the run it is making
        self.began = self.deadline = 0.0
        self.buffer = bytearray()
        self.gone = False

    def give(self, index: int, limit: float) -> bool:
        """Hand it run `index`; False when it has ended (it takes no more)."""
        try:
            os.write(self.orders, f"{index}\n".encode())
        except OSError:  # BrokenPipeError: it ended while idle
            self.gone = True
            return False
        self.index, self.began = index, time.monotonic()
        self.deadline = self.began + limit
        return True

    def read(self) -> list[dict[str, object]]:
        """The results that came in (none when the slot has ended: then `gone`)."""
        chunk = os.read(self.results, 1 << 20)
        if not chunk:
            self.gone = True
            return []
        self.buffer += chunk
        *lines, rest = self.buffer.split(b"\n")
        self.buffer = bytearray(rest)
        return [json.loads(line) for line in lines]

    def end(self) -> None:
        """Close its orders (it ends once idle) and reap it; a slot busy or gone is killed."""
        if self.index is not None or self.gone:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)  # the cell's pid 1 dies with it
        for fd in (self.orders, self.results):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _serve(
    config: Config, given: tuple[list[str], list[Any]], *, orders: int, results: int
) -> None:
    """The slot: become a cell's pid 1, then make each run the jail orders, until it stops."""
    null_in, null_out = os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY)
    children.keep_fds(null_in, null_out, 2, orders, results)  # they become 0, 1, 2, 3 and 4
    size = config["limits"]["tmp_mb"]
    view.cell(tmp_mb=size, shm_mb=size)
    sources, data = given
    gc.freeze()  # the runs' garbage collections leave the slot's objects (and pages) alone
    with open(3, "rb", closefd=False) as told, open(4, "wb", closefd=False) as back:
        for line in told:
            index = int(line)
            result = runs.run_one(config, index, (sources[index], data[index]), base="/tmp")
            back.write(json.dumps(result).encode() + b"\n")
            back.flush()


def _lost(config: Config, slot: _Slot, *, timed_out: bool) -> dict[str, object]:
    """The result of a run whose slot ended before it could say."""
    why = "" if timed_out else "the run's cell ended before the run"
    return runs.result(
        config,
        None,
        ("", why),
        timed_out=timed_out,
        truncated=False,
        duration=time.monotonic() - slot.began,
        report=None,
    )


def schedule(
    config: Config, sources: list[str], data: list[Any], *,
    emit: Callable[[dict[str, object]], None],
) -> None:  # fmt: skip
    """Make every run in slots and `emit` each result in input order."""
    most = max(1, int(config.get("parallel", 1)))
    limit, patience = config["limits"]["timeout_s"], runs.patience_of(config)
    waiting, shown = list(range(len(sources))), 0
    slots: list[_Slot] = []
    done: dict[int, dict[str, object]] = {}
    try:
        while waiting or any(s.index is not None for s in slots):
            for slot in slots:
                if slot.index is None and waiting and slot.give(waiting[0], limit):
                    waiting.pop(0)
            for slot in [s for s in slots if s.gone]:
                slot.end()
                slots.remove(slot)
            now = time.monotonic()
            if waiting and len(slots) < most and all(now - s.began >= patience for s in slots):
                slots.append(_Slot(config, sources, data))
                if slots[-1].give(waiting[0], limit):
                    waiting.pop(0)
            _wait(slots, done, config, wake=patience if waiting and len(slots) < most else None)
            while shown in done:
                emit(done.pop(shown))
                shown += 1
    finally:
        for slot in slots:
            slot.end()


def _wait(
    slots: list[_Slot], done: dict[int, dict[str, object]], config: Config, *, wake: float | None
) -> None:
    """Until a result comes in, a slot ends or overruns, or (with `wake`) the youngest run has
    gone on for that long; results go to `done`."""
    busy = [s for s in slots if s.index is not None]
    if not busy:
        return
    ends = [s.deadline + GRACE for s in busy]
    if wake is not None:
        ends.append(max(s.began for s in busy) + wake)
    left = max(0.0, min(ends) - time.monotonic())
    ready = select.select([s.results for s in busy], [], [], left)[0]
    for slot in busy:
        index = slot.index
        assert index is not None
        if slot.results in ready:
            for result in slot.read():  # one at most: it makes one run at a time
                done[index], slot.index = result, None
            if slot.gone and slot.index is not None:
                done[index], slot.index = _lost(config, slot, timed_out=False), None
        elif time.monotonic() >= slot.deadline + GRACE:
            done[index] = _lost(config, slot, timed_out=True)
            slot.index, slot.gone = None, True
