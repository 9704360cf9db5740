"""The public statistics of the dashboard and /api/stats: a view of the figures.

Every number comes from the same :class:`~.figures.Figures` as the exports (one
snapshot, each map folded once), so the 7-day figures here are the 7-day exports'
and the print outcomes per day add up to the exports' window outcomes.
"""

from __future__ import annotations

from typing import Any

from ..timefmt import day_iso, iso
from .figures import Day, Figures, WindowFigures
from .smallgroup import Fold

PRINT_WINDOW_DAYS = 30
TOP_PLUGINS = 25


def groups(fold: Fold, name: str, limit: int | None = None) -> dict[str, Any]:
    """``{name: [{key, instances}], name_other: n, name_unknown: n}``, largest
    first (``limit``: only the first rows; the remainder stays the map's)."""
    rows = [{"key": k, "instances": n} for k, n in fold.visible.items()]
    siblings = {k: v for k, v in fold.fields(name).items() if k != name}
    return {name: rows[:limit] if limit else rows, **siblings}


def _active(window: WindowFigures) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if window.instances is not None:
        result["instances"] = window.instances
    for name, metric in (
        ("by_version", "version"),
        ("by_python", "python"),
        ("by_os", "os"),
    ):
        result.update(groups(window.maps[metric], name))
    return result


def day_row(day: Day) -> dict[str, Any]:
    """A day's print figures as published: only what is shown."""
    row: dict[str, Any] = {"day": day_iso(day.day)}
    if day.printers is not None:
        row["instances"] = day.printers
    if day.outcomes is not None:
        row.update(day.outcomes)
        row.update({k: v for k, v in day.rates().items() if v is not None})
    return row


def _prints(window: WindowFigures) -> dict[str, Any]:
    fold, versions = window.print_versions
    by_version = []
    for v in versions:
        row: dict[str, Any] = {"version": v.version, "instances": v.instances}
        row.update({k: r for k, r in (v.rates or {}).items() if r is not None})
        by_version.append(row)
    result: dict[str, Any] = {
        "window_days": window.days,
        "per_day": [day_row(d) for d in window.day_series],
        "by_version": by_version,
    }
    if fold is not None and fold.other is not None:
        result["by_version_other"] = fold.other
        if fold.unknown is not None:
            result["by_version_unknown"] = fold.unknown
    return result


def compute_stats(figures: Figures) -> dict[str, Any]:
    """The public statistics, from the figures of one snapshot."""
    day, week = figures.window(1), figures.window(7)
    month = figures.window(PRINT_WINDOW_DAYS)
    assert week.plugins is not None
    return {
        "_since": iso(month.since),
        "_generated": iso(figures.generated),
        "min_group": figures.min_group,
        "active": {"24h": _active(day), "7d": _active(week)},
        "prints": _prints(month),
        **groups(week.maps["firmware"], "firmware"),
        **groups(week.plugins.parent, "plugins", limit=TOP_PLUGINS),
        **groups(week.maps["country"], "countries"),
    }
