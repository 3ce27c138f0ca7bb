"""`vaultttc providers`: which providers are configured, and what to set for the others."""

from __future__ import annotations

import os
from pathlib import Path

import click

from vaultttc.config import load_config
from vaultttc.providers.registry import describe_providers, render_providers
from vaultttc.vault.files import find_vault_root

__all__ = ["providers"]


@click.command()
@click.option("--base-url", help="Base URL of an OpenAI-compatible server, to check it.")
@click.option("--vault", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Vault whose .vaultttc/config.toml to read.")  # fmt: skip
def providers(base_url: str | None, vault: Path) -> None:
    """Which providers are configured, and what to set for the others."""
    config = load_config(find_vault_root(vault))
    statuses = describe_providers(dict(os.environ), config, base_url=base_url)
    click.echo(render_providers(statuses))
