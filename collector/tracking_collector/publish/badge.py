"""A plugin's badge as data: label, message and colour, and the shields.io endpoint
document (``/badge/<id>.json``) that READMEs embed through
``https://img.shields.io/endpoint?url=...``.

The figure is the plugin's instances over 30 days from ``plugin_stats_30d`` (the
same number plugins.octoprint.org shows). An unknown plugin and one the
small-group rule does not show get the same badge, "not published", never a 0 or
a small number. ``web/badge.py`` draws the same badge as SVG.
"""

from __future__ import annotations

from typing import Any, NamedTuple

LABEL = "instances (30d)"
NOT_PUBLISHED = "not published"
COLOR = "blue"
NOT_PUBLISHED_COLOR = "lightgrey"
# Seconds shields.io may cache the endpoint answer (it applies its own minimum).
CACHE_SECONDS = 3600
_PREFIXES = "kMGTPEZY"


class Badge(NamedTuple):
    label: str
    message: str
    color: str


def metric(n: int) -> str:
    """A count as shields writes counts: 999, 1.2k, 12k, 1.5M (one decimal below
    ten of a unit unless it is 0; 999.6k rounds up to 1M)."""
    if n < 1000:
        return str(n)
    for power, prefix in reversed(list(enumerate(_PREFIXES, start=1))):
        scaled = n / 1000**power
        if scaled < 1:
            continue
        one_decimal = f"{scaled:.1f}"
        if scaled < 10 and not one_decimal.endswith("0"):
            return f"{one_decimal}{prefix}"
        rounded = int(scaled + 0.5)  # JavaScript's Math.round, as shields rounds
        if rounded < 1000:
            return f"{rounded}{prefix}"
        return f"1{_PREFIXES[power]}"
    return str(n)  # pragma: no cover - every n >= 1000 has a prefix above


def of(instances: int | None) -> Badge:
    """The badge of a plugin with ``instances`` published (None: not published)."""
    if instances is None:
        return Badge(LABEL, NOT_PUBLISHED, NOT_PUBLISHED_COLOR)
    return Badge(LABEL, metric(instances), COLOR)


def endpoint(badge: Badge) -> dict[str, Any]:
    """The shields.io endpoint document: only the keys its schema allows (it
    rejects unknown ones, so no ``_generated`` here)."""
    return {
        "schemaVersion": 1,
        "label": badge.label,
        "message": badge.message,
        "color": badge.color,
        "cacheSeconds": CACHE_SECONDS,
    }
