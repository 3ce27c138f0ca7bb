"""`vaultttc scan` on a folder inside a vault uses the vault's config and index."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers import REPO

from vaultttc.vault.scan import scan_paths


def test_scanning_a_subfolder_keeps_the_vault_root_and_its_excludes(tmp_path: Path) -> None:
    vault = tmp_path / "v"
    shutil.copytree(REPO / "vault_example", vault)
    (vault / "10_Wiki" / "Templates").mkdir()
    (vault / "10_Wiki" / "Templates" / "t.md").write_text("# excluded\n")
    config = vault / ".vaultttc" / "config.toml"
    config.write_text('exclude = ["Templates", "10_Wiki/Templates"]\n')
    whole = scan_paths([vault])
    part = scan_paths([vault / "10_Wiki"])
    assert not (vault / "10_Wiki" / ".vaultttc").exists()
    assert [e["path"] for e in part.entries] == [
        e["path"] for e in whole.entries if e["path"].startswith("10_Wiki/")
    ]
    assert part.reused == len(part.entries)  # the vault's index served the subfolder
    assert "10_Wiki/Templates/t.md" not in [e["path"] for e in part.entries]
    again = scan_paths([vault])
    assert again.entries == whole.entries and again.reused == len(whole.entries)
