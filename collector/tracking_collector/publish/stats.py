"""The public statistics of the dashboard and /api/stats, from window and daily
rollups, under the small-group rule (``smallgroup``)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Callable

from ..store import Store
from ..timefmt import DAY, day_iso, day_of, iso_precise
from .smallgroup import PrintSummary, breakdown, masked, print_row

PRINT_WINDOW_DAYS = 30
TOP_PLUGINS = 25
_BREAKDOWNS = ("active", "version", "python", "os", "firmware", "plugin", "country")


def _active(window: dict[str, dict[str, int]], min_group: int) -> dict:
    return {
        "instances": masked(window.get("active", {}).get("", 0), min_group),
        "by_version": breakdown(Counter(window.get("version", {})), min_group),
        "by_python": breakdown(Counter(window.get("python", {})), min_group),
        "by_os": breakdown(Counter(window.get("os", {})), min_group),
    }


def _print_summaries(store: Store, now: float) -> dict[str, list[PrintSummary]]:
    """Print figures of the window from daily rollups (per day and version).

    Per day, an instance runs one version, so the distinct printing instances of
    a day are the sum over its versions. Over the whole window an instance
    printing on several days counts once: those come from the 30-day window
    (by the version the instance runs now).
    """
    since = day_of(now - PRINT_WINDOW_DAYS * DAY)
    distinct = store.window(PRINT_WINDOW_DAYS, ("print_instances",)).get(
        "print_instances", {}
    )
    zero = [0] * 5
    per_day: dict[int, list[int]] = {}
    per_version: dict[str, list[int]] = {}
    per_day_version: dict[tuple[int, str], list[int]] = {}
    for day, version, *counts in store.print_days(since):
        per_day_version[(day, version)] = counts
        for group, key in ((per_day, day), (per_version, version)):
            row = group.get(key) or group.setdefault(key, zero[:])
            for i, n in enumerate(counts):
                row[i] += n
    return {
        "day": [PrintSummary(day_iso(d), None, *v) for d, v in sorted(per_day.items())],
        "version": [
            PrintSummary(None, version, distinct.get(version, 0), *v[1:])
            for version, v in sorted(per_version.items())
        ],
        "day_version": [
            PrintSummary(day_iso(d), version, *v)
            for (d, version), v in sorted(per_day_version.items())
        ],
    }


def compute_stats(
    store: Store,
    min_group: int = 10,
    now: float | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The public statistics; reads only window and daily rollups."""
    now = clock() if now is None else now
    with store.snapshot():
        day = store.window(1, _BREAKDOWNS)
        week = store.window(7, _BREAKDOWNS)
        prints = _print_summaries(store, now)
    return {
        "generated_at": iso_precise(now),
        "min_group": min_group,
        "active": {"24h": _active(day, min_group), "7d": _active(week, min_group)},
        "prints": {
            "window_days": PRINT_WINDOW_DAYS,
            "per_day": [print_row(s, min_group) for s in prints["day"]],
            "by_version": [print_row(s, min_group) for s in prints["version"]],
            "per_day_by_version": [
                print_row(s, min_group) for s in prints["day_version"]
            ],
        },
        "firmware": breakdown(Counter(week.get("firmware", {})), min_group),
        "plugins": breakdown(
            Counter(week.get("plugin", {})), min_group, limit=TOP_PLUGINS
        ),
        "countries": breakdown(Counter(week.get("country", {})), min_group),
    }
