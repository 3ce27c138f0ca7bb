"""Default models and install hints, in a module that imports no SDK.

The registry, `vaultttc providers` and the CLI read these without paying for importing the
anthropic and openai SDKs (about 2 s and 75 MB); provider modules import them from here.
"""

from __future__ import annotations

__all__ = [
    "ANTHROPIC_CACHE_MIN_TOKENS",
    "ANTHROPIC_DEFAULT_MODEL",
    "LOCAL_DEFAULT_MODEL",
    "LOCAL_INSTALL_HINT",
    "OPENAI_DEFAULT_MODEL",
]

ANTHROPIC_DEFAULT_MODEL = "claude-sonnet-5-5"
ANTHROPIC_CACHE_MIN_TOKENS = 1024  # shortest prefix worth a cache_control breakpoint
OPENAI_DEFAULT_MODEL = "gpt-6.1-sol"
LOCAL_DEFAULT_MODEL = "gemma-3-270m-q4_k_m"
LOCAL_INSTALL_HINT = "pip install 'vaultttc[local]' (builds llama-cpp-python; see the README)"
