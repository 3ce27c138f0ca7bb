"""Blocking forms of the sandbox's coroutines, for callers without an event loop.

Each wraps its `sandbox.parent` coroutine and runs it to completion, in a thread of its own
(with the caller's context, so `detect.unsandboxed()` holds there too) when the caller is
already inside a running loop. Must not add behaviour of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Collection, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from vaultttc.sandbox.parent import (
    DEFAULT_MAX_OUTPUT,
    PROCESSES,
    SandboxResult,
    arun_child,
    arun_python,
    arun_python_batch,
)

__all__ = ["run_child", "run_python", "run_python_batch"]

T = TypeVar("T")


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when the caller is inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(context.run, asyncio.run, coro).result()


def run_python_batch(
    sources: Sequence[str],
    *,
    timeout_s: float,
    memory_mb: int,
    env_allow: Collection[str] = (),
    max_output: int = DEFAULT_MAX_OUTPUT,
    workers: int = 1,
) -> list[SandboxResult]:
    """Blocking `arun_python_batch`."""
    return _run_sync(
        arun_python_batch(
            sources,
            timeout_s=timeout_s,
            memory_mb=memory_mb,
            env_allow=env_allow,
            max_output=max_output,
            workers=workers,
        )
    )


def run_python(
    source: str,
    *,
    timeout_s: float,
    memory_mb: int,
    env_allow: Collection[str] = (),
    max_output: int = DEFAULT_MAX_OUTPUT,
) -> SandboxResult:
    """Blocking `arun_python`."""
    return _run_sync(
        arun_python(
            source,
            timeout_s=timeout_s,
            memory_mb=memory_mb,
            env_allow=env_allow,
            max_output=max_output,
        )
    )


def run_child(
    argv: Sequence[str],
    *,
    stdin: bytes | str | None = None,
    timeout_s: float,
    memory_mb: int,
    cwd: str | Path | None = None,
    env_allow: Collection[str] = (),
    max_output: int = DEFAULT_MAX_OUTPUT,
    processes: int = PROCESSES,
) -> SandboxResult:
    """Blocking `arun_child`."""
    return _run_sync(
        arun_child(
            argv,
            stdin=stdin,
            timeout_s=timeout_s,
            memory_mb=memory_mb,
            cwd=cwd,
            env_allow=env_allow,
            max_output=max_output,
            processes=processes,
        )
    )
