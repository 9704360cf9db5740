"""Regenerates the "what is sent" table in README.md from the catalog.

Run ``python -m octoprint_tracking.readme`` after changing the catalog.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .core.catalog import markdown_table

BEGIN, END = "<!-- catalog:begin -->", "<!-- catalog:end -->"


def update(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{markdown_table()}{END}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    print("updated" if update(target) else "up to date")
