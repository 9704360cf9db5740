"""Daily history over the retention window, built from the store's daily rollups.

Three series people ask for: active instances by OctoPrint version, one plugin's
adoption (plugins.octoprint.org issue 1028 asks for it) and the print success rate.
Like the exports, the builders are pure functions of the rollups (metric -> day ->
key -> value, as ``Store.daily`` returns them) and apply the small-group rule to
every day: a day's group below ``min_group`` is "<N", never exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..timefmt import DAY, day_iso, day_of, iso
from .exports import OUTCOMES
from .smallgroup import PrintSummary, hidden_unless, masked, masked_map, print_row

HISTORY_DAYS = 90

Daily = Mapping[str, Mapping[int, Mapping[str, int]]]


def day_range(now: float, days: int) -> tuple[int, int]:
    """(first day, last day) of the ``days`` days that end with today (UTC)."""
    last = day_of(now)
    return last - days + 1, last


def _envelope(first: int, now: float, body: dict[str, Any]) -> dict[str, Any]:
    return {"_since": iso(first * DAY), "_generated": iso(now), **body}


def versions(daily: Daily, first: int, last: int, now: float, min_group: int) -> dict:
    """Active instances per day, split by the OctoPrint version run that day."""
    active = daily.get("active", {})
    by_version = daily.get("version", {})
    return _envelope(
        first,
        now,
        {
            "days": [
                {
                    "day": day_iso(day),
                    "instances": masked(active.get(day, {}).get("", 0), min_group),
                    "versions": masked_map(by_version.get(day, {}), min_group),
                }
                for day in range(first, last + 1)
            ]
        },
    )


def plugin(
    daily: Daily, plugin_id: str, first: int, last: int, now: float, min_group: int
) -> dict:
    """One plugin's instances and install events per day."""
    instances = daily.get("plugin", {})
    installs = daily.get("plugin_installed", {})
    days = []
    for day in range(first, last + 1):
        count = instances.get(day, {}).get(plugin_id, 0)
        events = installs.get(day, {}).get(plugin_id, 0)
        days.append(
            {
                "day": day_iso(day),
                "instances": masked(count, min_group),
                # Events are shown under the same rule as the instances behind them.
                "install_events": hidden_unless(
                    masked(events, min_group), count, min_group
                ),
            }
        )
    return _envelope(first, now, {"plugin": plugin_id, "days": days})


def prints(daily: Daily, first: int, last: int, now: float, min_group: int) -> dict:
    """Print outcomes and rates per day (all OctoPrint versions together)."""
    printing = daily.get("print_instances", {})
    rows = []
    for day in range(first, last + 1):
        counts = {
            o: sum(daily.get(f"print_{o}", {}).get(day, {}).values()) for o in OUTCOMES
        }
        summary = PrintSummary(
            day=day_iso(day),
            version=None,
            instances=sum(printing.get(day, {}).values()),
            **counts,
        )
        rows.append(print_row(summary, min_group))
    return _envelope(first, now, {"days": rows})


METRICS = {
    "versions": ("active", "version"),
    "plugin": ("plugin", "plugin_installed"),
    "prints": ("print_instances",) + tuple(f"print_{o}" for o in OUTCOMES),
}


def read(
    store: Any, kind: str, now: float, days: int = HISTORY_DAYS
) -> tuple[Daily, int, int]:
    """The daily rollups one history needs, for the ``days`` days up to today."""
    first, last = day_range(now, days)
    return store.daily(METRICS[kind], first, last), first, last
