"""The compatibility matrix's versions (one constraints file each in compat/) are the
ones the README names, and include the development version and a 2.x."""

from __future__ import annotations

import re
from pathlib import Path

from tests.compat.scenario import versions

ROOT = Path(__file__).resolve().parents[2]


def readme_table() -> list:
    section = (ROOT / "README.md").read_text().split("## Compatibility", 1)[1]
    section = section.split("\n## ", 1)[0]
    return re.findall(r"^\| (\d+\.\d+\.\d+\S*) \|", section, re.MULTILINE)


def test_readme_names_the_tested_versions():
    assert versions() == readme_table()


def test_matrix_covers_the_dev_version_the_oldest_allowed_and_2():
    makefile = (ROOT / "Makefile").read_text()
    dev = re.search(r"^OCTOPRINT_VERSION := (\S+)$", makefile, re.MULTILINE)[1]
    oldest = re.search(r'"OctoPrint>=(\d+\.\d+)', (ROOT / "pyproject.toml").read_text())[
        1
    ]
    tested = versions()
    assert dev in tested
    assert any(v.startswith(oldest + ".") for v in tested), (oldest, tested)
    assert any(v.startswith("2.") for v in tested), tested
