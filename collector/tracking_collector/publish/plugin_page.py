"""A plugin's page as data (``/api/plugins/<id>``): its current figures and its
history, day by day, from the archive (closed days) and the rollups (the rest).

The current 7- and 30-day figures are the plugin's entry of the ``plugin_stats``
exports, read from the publisher (the same fold result every view shows), never
computed again here. The daily series is ``daily.plugin_day`` per day: a closed,
archived day as the archive has it (so a later forget does not rewrite it), a
newer one from the rollups.

An unknown id and a hidden one (below the minimum, or folded) get the same answer
apart from the id: every day present, no figure on any of them, no current
figures. Otherwise asking for a name would tell whether a private plugin runs on
a handful of instances.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..timefmt import day_iso, day_of, iso
from . import daily
from .archive import DAY_STATS

WINDOWS = ("7d", "30d")


def published(entry: Any) -> dict[str, Any] | None:
    """A ``plugin_stats`` entry if it shows the plugin with a number of instances;
    None otherwise (absent, or a group the fold did not show)."""
    if isinstance(entry, Mapping) and isinstance(entry.get("instances"), int):
        return dict(entry)
    return None


def series(
    store: Any, plugin: str, now: float, history_days: int, min_group: int
) -> list[dict[str, Any]]:
    """The plugin's figures per day, from the first archived day (or the start of
    the rollups' history) to today. The range and each day's source depend on the
    archive and the clock only, never on the plugin."""
    last = day_of(now)
    first_rollup = last - history_days + 1
    archived_days = store.archive_days(DAY_STATS)
    first = min([first_rollup, *archived_days])
    archived = store.archived_entries(plugin) if archived_days else {}
    recent = [d for d in range(first_rollup, last + 1) if d not in archived_days]
    rollups = _rollups(store, plugin, recent[0], last) if recent else {}
    days = []
    for day in range(first, last + 1):
        if day in archived_days:
            entry = json.loads(archived.get(day, "{}"))
        elif day >= first_rollup:
            entry = daily.plugins(rollups, day, min_group, only=plugin)[0].get(plugin, {})
        else:
            entry = {}  # before the rollups' history, and never archived
        days.append({"day": day_iso(day), "archived": day in archived_days, **entry})
    return days


def _rollups(store: Any, plugin: str, first: int, last: int) -> dict[str, Any]:
    """What a day's plugin fold needs, for the days ``first`` to ``last``: the
    whole plugin map (a plugin is shown or not by the day's fold of all of them),
    and this plugin's versions."""
    with store.snapshot():
        rollups = dict(store.daily(daily.PLUGIN_MAPS, first, last))
        rollups["plugin_version"] = store.plugin_versions(plugin, first, last)
    return rollups


def document(
    plugin: str,
    current: Mapping[str, Any],
    days: list[dict[str, Any]],
    now: float,
    min_group: int,
) -> dict[str, Any]:
    """``current``: window ("7d", "30d") -> that window's ``plugin_stats`` entry."""
    first = days[0]["day"] if days else day_iso(day_of(now))
    return {
        "_since": f"{first}T00:00:00Z",
        "_generated": iso(now),
        "plugin": plugin,
        "min_group": min_group,
        "current": {w: published(current.get(w)) for w in WINDOWS},
        "days": days,
    }


def headline(page: Mapping[str, Any], window: str = "30d") -> int | None:
    """The plugin's instances in ``window`` as published (None: not published)."""
    entry = page["current"].get(window)
    return entry["instances"] if entry else None
