"""Aggregated, privacy-preserving statistics for the dashboard and /api/stats.

Every number that counts instances is subject to the small-group rule: a group of
fewer than ``min_group`` instances is reported as the string "<N", never exactly,
so that a rare combination (an odd plugin, a small country) cannot single out an
installation. When exactly one group of a breakdown would be hidden, the next
smallest is hidden too, so the small one cannot be recovered as total minus the
visible groups.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from .store import DAY, Store, day_iso, day_of
from .store.model import BUNDLED_PLUGINS  # noqa: F401 - re-exported

PRINT_WINDOW_DAYS = 30
TOP_PLUGINS = 25
_BREAKDOWNS = ("active", "version", "python", "os", "firmware", "plugin", "country")
_PRINT_METRICS = tuple(
    "print_" + c for c in ("instances", "started", "done", "failed", "cancelled")
)


@dataclass
class PrintSummary:
    """Print event counts for one group (a day, a version or both)."""

    day: str | None
    version: str | None
    instances: int
    started: int
    done: int
    failed: int
    cancelled: int


def small(min_group: int) -> str:
    return f"<{min_group}"


def masked(value: int, min_group: int) -> int | str:
    return value if value >= min_group else small(min_group)


def breakdown(counter: Counter, min_group: int, limit: int | None = None) -> list[dict]:
    """Rows {key, instances} sorted by size, with small groups masked."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    if limit is not None:
        items = items[:limit]
    hidden = {k for k, v in items if v < min_group}
    visible = [(k, v) for k, v in items if v >= min_group]
    if len(hidden) == 1 and visible:
        # Complementary suppression: hide the smallest visible group as well.
        hidden.add(visible[-1][0])
    rows = []
    for key, value in items:
        rows.append(
            {"key": key, "instances": small(min_group) if key in hidden else value}
        )
    return rows


def _active(window: dict[str, dict[str, int]], min_group: int) -> dict:
    return {
        "instances": masked(window.get("active", {}).get("", 0), min_group),
        "by_version": breakdown(Counter(window.get("version", {})), min_group),
        "by_python": breakdown(Counter(window.get("python", {})), min_group),
        "by_os": breakdown(Counter(window.get("os", {})), min_group),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _print_row(summary: PrintSummary, min_group: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    if summary.day is not None:
        row["day"] = summary.day
    if summary.version is not None:
        row["version"] = summary.version
    if summary.instances < min_group:
        # Counts of a handful of printers would reveal their individual activity.
        row.update(
            instances=small(min_group),
            started=None,
            done=None,
            failed=None,
            cancelled=None,
            done_rate=None,
            failed_rate=None,
            cancelled_rate=None,
        )
        return row
    finished = (summary.done or 0) + (summary.failed or 0) + (summary.cancelled or 0)
    row.update(
        instances=summary.instances,
        started=summary.started or 0,
        done=summary.done or 0,
        failed=summary.failed or 0,
        cancelled=summary.cancelled or 0,
        done_rate=_rate(summary.done or 0, finished),
        failed_rate=_rate(summary.failed or 0, finished),
        cancelled_rate=_rate(summary.cancelled or 0, finished),
    )
    return row


def _print_summaries(store: Store, now: float) -> dict[str, list[PrintSummary]]:
    """Print figures of the window from daily rollups (per day and version).

    Per day, an instance runs one version, so the distinct printing instances of
    a day are the sum over its versions. Over the whole window an instance
    printing on several days counts once: those come from the 30-day window
    (by the version the instance runs now).
    """
    since = day_of(now - PRINT_WINDOW_DAYS * DAY)
    daily = store.daily(_PRINT_METRICS, since)
    distinct = store.window(PRINT_WINDOW_DAYS, ("print_instances",)).get(
        "print_instances", {}
    )
    per_day: dict[int, list[int]] = {}
    per_version: dict[str, list[int]] = {}
    per_day_version: dict[tuple[int, str], list[int]] = {}
    for i, metric in enumerate(_PRINT_METRICS):
        for day, keys in daily[metric].items():
            for version, n in keys.items():
                for group, key in (
                    (per_day, day),
                    (per_version, version),
                    (per_day_version, (day, version)),
                ):
                    group.setdefault(key, [0] * 5)[i] += n
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
    day = store.window(1, _BREAKDOWNS)
    week = store.window(7, _BREAKDOWNS)
    prints = _print_summaries(store, now)
    return {
        "generated_at": datetime.fromtimestamp(now, timezone.utc).isoformat(),
        "min_group": min_group,
        "active": {"24h": _active(day, min_group), "7d": _active(week, min_group)},
        "prints": {
            "window_days": PRINT_WINDOW_DAYS,
            "per_day": [_print_row(s, min_group) for s in prints["day"]],
            "by_version": [_print_row(s, min_group) for s in prints["version"]],
            "per_day_by_version": [
                _print_row(s, min_group) for s in prints["day_version"]
            ],
        },
        "firmware": breakdown(Counter(week.get("firmware", {})), min_group),
        "plugins": breakdown(
            Counter(week.get("plugin", {})), min_group, limit=TOP_PLUGINS
        ),
        "countries": breakdown(Counter(week.get("country", {})), min_group),
    }
