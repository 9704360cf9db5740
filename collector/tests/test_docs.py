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


def _config_rows() -> list[list[str]]:
    readme = (COLLECTOR / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ")
    ]
    return rows[1:]  # below the header (and its --- line, which starts "| -")


def _default_text(spec) -> str:
    if spec.metadata["kind"] is bool:
        return "on" if spec.default else "off"
    if spec.metadata["many"] or spec.default is None:
        return "none"
    if isinstance(spec.default, float):
        return f"`{spec.default:g}`"
    return f"`{spec.default}`"


def test_readme_configuration_table_is_the_settings_of_the_code():
    """Config is the one table of settings (name, environment variable, CLI flag,
    default); the README's table must say the same."""
    import dataclasses

    from tracking_collector.settings import ENV_PREFIX, Config

    rows = _config_rows()
    specs = {s.name.upper(): s for s in dataclasses.fields(Config)}
    named = re.compile(r"(?:TRACKING_COLLECTOR|`|, |/ )_([A-Z_]+?)(?![A-Z_])")
    listed: dict[str, list[str]] = {}
    for row in rows:
        for name in named.findall(row[1]):
            listed[name] = row
    assert sorted(listed.keys() - specs.keys()) == []  # no setting the code lacks
    assert sorted(specs.keys() - listed.keys()) == []  # every setting documented
    for key, spec in specs.items():
        cli, env, default, _ = listed[key]
        dashed = spec.name.replace("_", "-")
        if spec.metadata["commands"]:
            flags = (spec.metadata["flag"] or f"--{dashed}", f"--no-{dashed}")
            assert any(f"`{flag}`" in cli for flag in flags), (key, cli)
        else:
            assert cli == "–", (key, cli)
        assert _default_text(spec) in default, (key, default, _default_text(spec))
        assert ENV_PREFIX + key in env or f"_{key}" in env
