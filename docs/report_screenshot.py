"""Docs tooling (not part of vaultttc): the README's picture of `vaultttc/Report.md`.

Copies vault_example to a temporary folder, answers it from the recorded samples the tests
use (replay: offline, reproducible, and free, so its spend chart is empty), writes the
dashboard, renders the report note to HTML with markdown-it-py (the SVG pictures inlined,
wiki links as plain text) and takes a headless-chromium screenshot into docs/report.png.
Needs `chromium` on PATH (e.g. `apt-get install -y chromium`).

    python docs/report_screenshot.py
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[1]
REPLAY = REPO / "tests" / "data" / "replay" / "vault_example.jsonl"
STYLE = """body{font:15px/1.5 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:860px;
margin:24px auto;color:#222}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid
#ddd;padding:3px 8px;font-size:13px}th{background:#f4f4f4}img{max-width:100%}code{background:
#f4f4f4;padding:1px 4px}h1{border-bottom:1px solid #eee}"""


def vaultttc(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "vaultttc.cli.main", *args], check=False,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def html(report: Path) -> str:
    text = report.read_text(encoding="utf-8")
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)  # the frontmatter
    text = re.sub(r"\[\[([^\]|]+)\]\]", r"\1", text)  # Obsidian links, as their text

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((report.parent / match.group(2)).read_bytes()).decode()
        # an <img> tag: markdown-it refuses data: URLs in Markdown links for SVG
        return f'<img alt="{match.group(1)}" src="data:image/svg+xml;base64,{data}">'

    text = re.sub(r"!\[([^\]]*)\]\(([^)]+\.svg)\)", inline, text)
    body = MarkdownIt("commonmark").enable("table").render(text)
    return f"<!doctype html><meta charset=utf-8><style>{STYLE}</style>{body}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        vault = Path(tmp) / "vault_example"
        shutil.copytree(REPO / "vault_example", vault)
        (vault / ".vaultttc" / "cache.sqlite").unlink(missing_ok=True)
        vaultttc("run", str(vault), "--provider", f"replay:{REPLAY}", "--allow-exec")
        vaultttc("dashboard", str(vault))
        page = Path(tmp) / "report.html"
        page.write_text(html(vault / "vaultttc" / "Report.md"), encoding="utf-8")
        out = REPO / "docs" / "report.png"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--screenshot={out}", "--window-size=960,2650",
                        page.as_uri()], check=True, capture_output=True)  # fmt: skip
        print(out)


if __name__ == "__main__":
    main()
