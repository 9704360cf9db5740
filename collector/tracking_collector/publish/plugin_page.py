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
from dataclasses import dataclass
from typing import Any

from ..timefmt import DAY, day_iso, day_of, iso
from . import daily
from .archive import DAY_STATS

WINDOWS = ("7d", "30d")
# How far back a plugin page's daily series goes: the archive keeps days for years,
# the page shows the last year of them (older days stay in /export/archive/).
PAGE_DAYS = 366


@dataclass(frozen=True)
class PluginDays:
    """Every plugin's published figures per day, for ALL plugins at once: what a
    plugin page or a plugin's history shows of one plugin is a projection of it,
    so the publisher computes it once per cache period, not per request (any id
    can be asked for, anonymously).

    ``live``: day -> plugin -> entry (``daily.plugins``: the day's fold of every
    plugin, the same as the archive's and the windows'), for the days of the
    rollups' history that are not archived; an archived day is read as the archive
    holds it (per plugin, ``Store.archived_entries``).
    """

    now: float
    last: int
    first_rollup: int
    archived: frozenset[int]
    live: Mapping[int, Mapping[str, Mapping[str, Any]]]

    @property
    def first(self) -> int:
        """The first day of a plugin page: the first archived day or the start of
        the rollups' history, at most :data:`PAGE_DAYS` ago. It depends on the
        archive and the clock only, never on the plugin."""
        return max(self.last - PAGE_DAYS + 1, min([self.first_rollup, *self.archived]))


def plugin_days(store: Any, now: float, history_days: int, min_group: int) -> PluginDays:
    """Read the daily rollups of the days not archived (one snapshot) and fold each
    day's plugins."""
    last = day_of(now)
    first_rollup = last - history_days + 1
    with store.snapshot():
        archived = frozenset(store.archive_days(DAY_STATS))
        recent = [d for d in range(first_rollup, last + 1) if d not in archived]
        rollups = store.daily(daily.PLUGIN_METRICS, recent[0], last) if recent else {}
    return fold_days(rollups, now, first_rollup, archived, min_group)


def fold_days(
    rollups: daily.Daily,
    now: float,
    first_rollup: int,
    archived: frozenset[int],
    min_group: int,
) -> PluginDays:
    """:class:`PluginDays` of daily rollups (``daily.PLUGIN_METRICS``): each day
    from ``first_rollup`` to today that is not archived, folded as a whole."""
    last = day_of(now)
    recent = [d for d in range(first_rollup, last + 1) if d not in archived]
    live = {day: daily.plugins(rollups, day, min_group)[0] for day in recent}
    return PluginDays(now, last, first_rollup, archived, live)


def entries(
    days: PluginDays, plugin: str, archived: Mapping[int, str], first: int
) -> list[tuple[int, bool, dict[str, Any]]]:
    """The one merge of archived and live days: (day, archived, the plugin's entry
    that day, empty where not shown) from ``first`` to today. ``archived``: the
    plugin's archived entries (``Store.archived_entries``)."""
    result = []
    for day in range(first, days.last + 1):
        if day in days.archived:
            entry = json.loads(archived.get(day, "{}"))
        else:
            entry = dict(days.live.get(day, {}).get(plugin, {}))
        result.append((day, day in days.archived, entry))
    return result


def series(merged: list[tuple[int, bool, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The page's daily rows: every figure of the plugin's entry that day."""
    return [
        {"day": day_iso(day), "archived": archived, **entry}
        for day, archived, entry in merged
    ]


def document(
    plugin: str,
    current: Mapping[str, Any],
    days: list[dict[str, Any]],
    first: int,
    now: float,
    min_group: int,
) -> dict[str, Any]:
    """``current``: window ("7d", "30d") -> that window's ``plugin_stats`` entry,
    None where the window does not show the plugin; ``days`` from day ``first``."""
    return {
        "_since": iso(first * DAY),
        "_generated": iso(now),
        "plugin": plugin,
        "min_group": min_group,
        "current": {w: current.get(w) for w in WINDOWS},
        "days": days,
    }
