"""Which stdlib modules a batch's jail imports once, before it forks the runs.

When the sources or the judge's prelude import them, every run then finds them loaded:
`typing` alone costs each forked process about 8 ms, and a judged run is two processes.
Only modules with no import-time output, I/O or random state are ever preloaded (a module
that seeds a generator at import would hand every run the same stream). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaultttc.sandbox.judge import Job

__all__ = ["PRELOADABLE", "preloads"]

PRELOADABLE = frozenset({"abc", "bisect", "collections", "copy", "decimal", "enum", "fractions",
                         "functools", "heapq", "itertools", "math", "operator", "re", "string",
                         "typing"})  # fmt: skip
_IMPORTS = re.compile(r"^[ \t]*(?:from|import)[ \t]+([A-Za-z_]\w*)", re.M)


def preloads(sources: Sequence[str], judge: Job | None) -> list[str]:
    """The modules of `PRELOADABLE` that the sources or the judge's prelude import."""
    texts = [*sources, *(judge["prelude"] if judge is not None else [])]
    return sorted({name for text in texts for name in _IMPORTS.findall(text)} & PRELOADABLE)
