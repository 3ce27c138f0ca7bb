"""The one exception tree of vaultttc.

Every error a user can cause derives from `VaultTTCError`; errors about a note carry its path
and line so the CLI can print one line that points at the problem. Nothing here does IO.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "BudgetExhausted",
    "ConfigError",
    "ExecutionNotAllowed",
    "NoteError",
    "PendingInBatch",
    "ProviderError",
    "ProviderNotConfigured",
    "Redactor",
    "StaleNoteError",
    "VaultTTCError",
]


class VaultTTCError(Exception):
    """Base of every error vaultttc raises on purpose."""


class NoteError(VaultTTCError):
    """A note cannot be read or understood. `line` is 1-based; 0 when it has no line."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


class StaleNoteError(VaultTTCError):
    """The note changed on disk between read and save; nothing was written."""


class ConfigError(VaultTTCError):
    """A setting is invalid (a bad value in config.toml, a flag, a field)."""


class ExecutionNotAllowed(VaultTTCError):
    """Answering needs code to run (a question's check) and execution was not consented to."""


class ProviderError(VaultTTCError):
    """A provider failed for one request after its retries."""


class ProviderNotConfigured(ProviderError):
    """A named provider lacks what it needs; the message says exactly what to set."""


class PendingInBatch(VaultTTCError):
    """The request waits in a provider's batch, or is to be sent in one: its question is
    answered when the batch is collected (`vaultttc run --batch`, `vaultttc batch collect`)."""


class BudgetExhausted(VaultTTCError):
    """A sample or cost cap would be exceeded by the next request."""


_SECRET_NAME = re.compile(r"(API_KEY|AUTH_TOKEN|TOKEN|SECRET|PASSWORD)$")
# Key-shaped strings a provider may echo back whole or in part ("sk-ant-…", "sk-proj-ab***yz").
_KEY_SHAPE = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_*.\-]{6,}")


class Redactor:
    """Removes secrets from text that may reach a note, a log or the terminal.

    Built once from the environment at the edge: every value of a variable whose name looks
    like a secret is replaced wherever it appears, and so is anything shaped like an API key.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        values = {v for k, v in env.items() if _SECRET_NAME.search(k.upper()) and len(v) >= 6}
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "[redacted]")
        return _KEY_SHAPE.sub("[redacted]", text)
