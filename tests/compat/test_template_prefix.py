"""Templates name each other with the plugin prefix: OctoPrint deprecated unprefixed
plugin template names in 1.8.0 and removes them in 2.1.0 ("Current deprecations").
2.0.0rc7 still resolves them without a warning in octoprint.log, so the served pages
cannot show it: this reads the templates."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "octoprint_tracking" / "templates"
PREFIX = "plugin_usage_tracking/"
REFERENCE = re.compile(r"""\{%-?\s*(?:include|import|from|extends)\s+(["'])(.+?)\1""")


def references():
    for path in sorted(TEMPLATES.rglob("*.jinja2")):
        for match in REFERENCE.finditer(path.read_text()):
            yield path.relative_to(TEMPLATES), match[2]


def test_templates_reference_each_other_with_the_plugin_prefix():
    found = list(references())
    unprefixed = [
        f"{path}: {name}" for path, name in found if not name.startswith(PREFIX)
    ]
    assert unprefixed == [], "\n".join(unprefixed)


def test_every_prefixed_reference_exists():
    missing = [
        f"{path}: {name}"
        for path, name in references()
        if name.startswith(PREFIX) and not (TEMPLATES / name[len(PREFIX) :]).is_file()
    ]
    assert missing == []
