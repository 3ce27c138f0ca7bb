"""Coalescing: the `verify` calls made for one task in one turn of the event loop become one
batch call, so N candidates verified concurrently cost one sandbox batch, not N start-ups.

Strategies verify candidates concurrently (`asyncio.gather` over `verify`); a `Coalescer`
queues each call under its task and, on the loop's next turn, hands every queued candidate of
that task to the batch function at once, then gives each caller its own verdict (or the batch's
exception). Must not: know what a verdict means or how a batch runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from vaultttc.engine.tasks import Task, Verdict

__all__ = ["Batch", "Coalescer"]

Batch = Callable[[Sequence[str], Task], Awaitable[list[Verdict]]]


class Coalescer:
    """Gathers concurrent `submit` calls per task into one `batch(candidates, task)` call."""

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self._queue: dict[int, tuple[Task, list[tuple[str, asyncio.Future[Verdict]]]]] = {}
        self._running: set[asyncio.Future[None]] = set()

    async def submit(self, candidate: str, task: Task) -> Verdict:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Verdict] = loop.create_future()
        key = id(task)  # the queue holds the task, so its id stays its own until the flush
        if key not in self._queue:
            self._queue[key] = (task, [])
            loop.call_soon(self._flush, key)
        self._queue[key][1].append((candidate, future))
        return await future

    def _flush(self, key: int) -> None:
        task, waiting = self._queue.pop(key)
        runner = asyncio.ensure_future(self._settle(task, waiting))
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)

    async def _settle(self, task: Task, waiting: list[tuple[str, asyncio.Future[Verdict]]]) -> None:
        try:
            verdicts = await self._batch([c for c, _ in waiting], task)
        except asyncio.CancelledError:
            for _, future in waiting:
                future.cancel()
            raise
        except Exception as exc:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), verdict in zip(waiting, verdicts, strict=True):
            if not future.done():
                future.set_result(verdict)
