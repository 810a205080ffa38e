"""Shared Markdown results file: each benchmark owns one `## ` section of benchmarks/RESULTS.md."""

from __future__ import annotations

import re
from pathlib import Path

from colog.core.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "benchmarks" / "RESULTS.md"


def replace_section(path: Path, heading: str, body: str) -> None:
    """Replace (or append) one `## ` section, keeping every other section as it is."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    block = f"{heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
