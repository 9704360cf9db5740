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


def test_deprecations_are_warning_records_without_time_and_basedir():
    from tests.compat.scenario import deprecations

    basedir = Path("/tmp/run-7/base")
    log = "\n".join(
        [
            "2026-11-26 11:03:46,476 - octoprint - INFO - Installing serial compat "
            "overlay for deprecated serial.* settings path",
            "2026-11-26 11:03:50,787 - octoprint.settings - WARNING - DeprecationWarning:"
            " Detected access to deprecated settings path ['serial', 'autoconnect']",
            "2026-11-26 11:03:51,000 - py.warnings - WARNING - /tmp/run-7/base/x.py:3: "
            "DeprecationWarning: old is deprecated",
            "  old()",
            "2026-11-26 11:03:52,000 - octoprint.server - WARNING - Could not fetch feed",
        ]
    )
    assert deprecations(log, basedir) == [
        "octoprint.settings - WARNING - DeprecationWarning: Detected access to "
        "deprecated settings path ['serial', 'autoconnect']",
        "py.warnings - WARNING - <basedir>/x.py:3: DeprecationWarning: old is "
        "deprecated old()",
    ]
