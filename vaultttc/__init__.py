"""vaultttc: test-time compute for Markdown knowledge vaults.

The package is a functional core (notes, edits, strategies, verifiers) with IO at the edges
(vaultio, cache, providers, sandbox, cli, watch, pytest_plugin).
"""

__version__ = "0.1.0"
