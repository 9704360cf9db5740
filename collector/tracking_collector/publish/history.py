"""Daily history over the retention window, built from the store's daily rollups.

Three series people ask for: active instances by OctoPrint version, one plugin's
adoption (plugins.octoprint.org issue 1028 asks for it) and the print outcomes.
Each day's map is folded under the small-group rule on its own (a pure function of
that day's rollup, so every view of a day folds it alike); the print outcomes come
from the figures (:mod:`.figures`), folded together with the 7- and 30-day totals
of the exports. Hidden figures are left out, never shown as strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..timefmt import DAY, day_iso, day_of, iso
from .figures import Figures
from .smallgroup import fold_partition, shown_count
from .stats import day_row

HISTORY_DAYS = 90
UNKNOWN_KEY = "unknown"

Daily = Mapping[str, Mapping[int, Mapping[str, int]]]


def day_range(now: float, days: int) -> tuple[int, int]:
    """(first day, last day) of the ``days`` days that end with today (UTC)."""
    last = day_of(now)
    return last - days + 1, last


def _envelope(first: int, now: float, body: dict[str, Any]) -> dict[str, Any]:
    return {"_since": iso(first * DAY), "_generated": iso(now), **body}


def _active(daily: Daily, day: int) -> int:
    return int(daily.get("active", {}).get(day, {}).get("", 0))


def versions(daily: Daily, first: int, last: int, now: float, min_group: int) -> dict:
    """Active instances per day, split by the OctoPrint version run that day."""
    rows = []
    for day in range(first, last + 1):
        counts = dict(daily.get("version", {}).get(day, {}))
        unknown = counts.pop(UNKNOWN_KEY, 0)
        active = _active(daily, day)
        row: dict[str, Any] = {"day": day_iso(day)}
        if shown_count(active, min_group) is not None:
            row["instances"] = active
        row.update(fold_partition(counts, unknown, min_group).fields("versions"))
        rows.append(row)
    return _envelope(first, now, {"days": rows})


PLUGIN_FIELDS = ("instances", "install_events")


def plugin(
    merged: Sequence[tuple[int, bool, Mapping[str, Any]]],
    plugin_id: str,
    first: int,
    now: float,
) -> dict:
    """One plugin's instances and distinct installing instances per day: its entry
    of each day's plugin fold (``plugin_page.entries``: the same fold of all
    plugins the plugin pages and the archive show), these two figures of it."""
    rows = [
        {"day": day_iso(day), **{f: entry[f] for f in PLUGIN_FIELDS if f in entry}}
        for day, _, entry in merged
    ]
    return _envelope(first, now, {"plugin": plugin_id, "days": rows})


def prints(figures: Figures, first: int, now: float) -> dict:
    """Print outcomes and rates per day (all OctoPrint versions together), as the
    figures fold them with the exports' window totals."""
    rows = [day_row(d) for d in figures.print_days if d.day >= first]
    return _envelope(first, now, {"days": rows})


METRICS = {"versions": ("active", "version")}


def read(
    store: Any, kind: str, now: float, days: int = HISTORY_DAYS
) -> tuple[Daily, int, int]:
    """The daily rollups one history needs, for the ``days`` days up to today."""
    first, last = day_range(now, days)
    return store.daily(METRICS[kind], first, last), first, last
