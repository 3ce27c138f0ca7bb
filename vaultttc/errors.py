"""The one exception tree of vaultttc.

Every error a user can cause derives from `VaultTTCError`; errors about a note carry its path
and line so the CLI can print one line that points at the problem. Nothing here does IO.
"""

from __future__ import annotations

__all__ = [
    "BudgetExhausted",
    "ConfigError",
    "ExecutionNotAllowed",
    "NoteError",
    "ProviderError",
    "ProviderNotConfigured",
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


class ProviderError(VaultTTCError):
    """A provider failed for one request after its retries."""


class ProviderNotConfigured(ProviderError):
    """A named provider lacks what it needs; the message says exactly what to set."""


class BudgetExhausted(VaultTTCError):
    """A sample or cost cap would be exceeded by the next request."""


class ExecutionNotAllowed(VaultTTCError):
    """Running code needs consent: --allow-exec, `ttc.execute: true`, or `execute = true`."""
