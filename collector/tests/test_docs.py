"""The README describes the code that ships: its module table is the package tree."""

from __future__ import annotations

import re

from testkit import REPO_ROOT

COLLECTOR = REPO_ROOT / "collector"


def test_readme_module_table_lists_every_module_of_the_package():
    package = COLLECTOR / "tracking_collector"
    modules = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        # A subpackage's __init__ only introduces it; the table lists its modules.
        and not (path.name == "__init__.py" and path.parent != package)
    }
    readme = (COLLECTOR / "README.md").read_text()
    section = readme.split("## Code layout", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([^`]+)` \|", section, re.M))
    assert sorted(listed - modules) == []
    assert sorted(modules - listed) == []
