"""One UTC day's published figures, folded per day: the fleet's instances and
OctoPrint versions, and each plugin's instances, versions, installs and uninstalls.

The archive's aggregate file of a closed day (``day_stats``) and the plugin pages'
daily series are built here, by the same functions, so a plugin's day reads the
same in both. Everything is a number or absent: a plugin below the minimum that day
is not named, a version group below it is folded into ``versions_other`` (research
3.1: the remainder is 0 or at least the minimum, so no difference of the day's
figures isolates a small group). Plugins overlap (an instance runs many), so
hiding the small ones is enough for them and the day has no plugin remainder: one
plugin's day is decided by its own figures alone, which lets a plugin page read
one plugin's rollups instead of the whole day's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import plugins
from ..timefmt import DAY, day_iso, iso

# The daily rollups a day's figures come from.
METRICS = (
    "active",
    "version",
    "plugin",
    "plugin_version",
    "plugin_installed",
    "plugin_uninstalled",
)
UNKNOWN = "unknown"

Daily = Mapping[str, Mapping[int, Mapping[str, int]]]


def folded(field: str, counts: Mapping[str, int], min_group: int) -> dict[str, Any]:
    """A partition of one population (its total is published beside it) as
    ``{field: {key: n}, field_other: r[, field_unknown: u]}``: keys below the
    minimum fold into the remainder, and when that remainder would be a small group
    itself one more group folds (``unknown`` first, else the smallest key). Nothing
    for a population below the minimum."""
    # Until the shared fold of publish/smallgroup.py (branch i18a) lands here.
    counts = {k: n for k, n in counts.items() if n > 0}
    unknown = counts.pop(UNKNOWN, 0)
    if sum(counts.values()) + unknown < min_group:
        return {}
    hidden = {k for k, n in counts.items() if n < min_group}
    other = sum(counts[k] for k in hidden)
    if 0 < unknown < min_group or (0 < other < min_group and unknown):
        other, unknown = other + unknown, 0
    if 0 < other < min_group:
        smallest = min(set(counts) - hidden, key=lambda k: (counts[k], k))
        hidden.add(smallest)
        other += counts[smallest]
    visible = sorted(set(counts) - hidden, key=lambda k: (-counts[k], k))
    result: dict[str, Any] = {field: {k: counts[k] for k in visible}}
    result[f"{field}_other"] = other
    if unknown:
        result[f"{field}_unknown"] = unknown
    return result


def plugin_day(daily: Daily, plugin: str, day: int, min_group: int) -> dict[str, Any]:
    """One plugin's figures of one day from the daily rollups (all of them, or the
    plugin's own: ``Store.plugin_days``); empty below the minimum."""

    def value(metric: str) -> int:
        return int(daily.get(metric, {}).get(day, {}).get(plugin, 0))

    instances = value("plugin")
    if instances < min_group:
        return {}
    prefix = plugins.key_prefix(plugin)
    versions = {
        plugins.entry(key)[1]: n
        for key, n in daily.get("plugin_version", {}).get(day, {}).items()
        if key.startswith(prefix)
    }
    entry: dict[str, Any] = {"instances": instances}
    entry.update(folded("versions", versions, min_group))
    # Events are not instances: shown where there are at least the minimum, so
    # fewer than that many instances can be behind no published event count.
    for metric, name in (
        ("plugin_installed", "install_events"),
        ("plugin_uninstalled", "uninstall_events"),
    ):
        if value(metric) >= min_group:
            entry[name] = value(metric)
    return entry


def day_stats(daily: Daily, day: int, now: float, min_group: int) -> dict[str, Any]:
    """The archive's aggregate file of one closed day: active instances, their
    OctoPrint versions, and every plugin shown that day."""
    active = int(daily.get("active", {}).get(day, {}).get("", 0))
    body: dict[str, Any] = {"_since": iso(day * DAY), "_generated": iso(now)}
    body["day"] = day_iso(day)
    if active >= min_group:
        body["instances"] = active
        body.update(folded("versions", daily.get("version", {}).get(day, {}), min_group))
    counts = daily.get("plugin", {}).get(day, {})
    shown = {}
    for plugin in sorted(counts, key=lambda p: (-counts[p], p)):
        entry = plugin_day(daily, plugin, day, min_group)
        if entry:
            shown[plugin] = entry
    body["plugins"] = shown
    return body
