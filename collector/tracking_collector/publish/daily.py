"""One UTC day's published figures: the fleet's instances and OctoPrint versions,
and each plugin shown that day with its versions, installs and uninstalls.

The archive's aggregate file of a closed day (``day_stats``) and the plugin pages'
daily series are built here, from the folds every other view uses: the fleet's
part is the day's row of the version history (``history.versions``), the plugins
are :func:`.figures.plugin_figures` of the day's rollup, the same fold as the
windows' and the plugin history's. So a day reads the same everywhere, and no map
of it is folded two ways. Everything is a number or absent: a plugin the fold does
not show that day is not named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..timefmt import DAY, iso
from . import history
from .figures import plugin_figures

# The daily rollups a day's plugins are folded from: the maps of all plugins, and
# each plugin's versions; with "version", everything its archived file needs.
PLUGIN_MAPS = ("active", "plugin", "plugin_installers", "plugin_uninstallers")
PLUGIN_METRICS = (*PLUGIN_MAPS, "plugin_version")
METRICS = (*PLUGIN_METRICS, "version")

Daily = Mapping[str, Mapping[int, Mapping[str, int]]]


def plugins(
    daily: Daily, day: int, min_group: int, only: str | None = None
) -> tuple[dict[str, dict[str, Any]], int | None]:
    """Every plugin shown on ``day`` (or only the plugin ``only``, if shown) with
    its figures, and the day's remainder (instance-plugin pairs of the plugins not
    shown; None when no plugin map is published)."""
    rollup = {m: daily.get(m, {}).get(day, {}) for m in PLUGIN_METRICS}
    active = int(rollup["active"].get("", 0))
    nested, installers, uninstallers = plugin_figures(rollup, active, min_group)
    entries = {}
    for plugin, instances in nested.parent.visible.items():
        if only is not None and plugin != only:
            continue
        entry: dict[str, Any] = {"instances": instances}
        entry.update(nested.children[plugin].fields("versions"))
        for name, shown in (
            ("install_events", installers),
            ("uninstall_events", uninstallers),
        ):
            if plugin in shown:
                entry[name] = shown[plugin]
        entries[plugin] = entry
    return entries, nested.parent.other


def day_stats(daily: Daily, day: int, now: float, min_group: int) -> dict[str, Any]:
    """The archive's aggregate file of one closed day: its row of the version
    history (active instances, OctoPrint versions) and every plugin shown."""
    fleet = history.versions(daily, day, day, now, min_group)["days"][0]
    shown, other = plugins(daily, day, min_group)
    body: dict[str, Any] = {"_since": iso(day * DAY), "_generated": iso(now), **fleet}
    body["plugins"] = shown
    if other is not None:
        body["plugins_other"] = other
    return body


def fleet(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fleet's part of a ``day_stats`` file: its row of the version history,
    without the day."""
    left_out = ("_since", "_generated", "day", "plugins", "plugins_other")
    return {k: v for k, v in body.items() if k not in left_out}
