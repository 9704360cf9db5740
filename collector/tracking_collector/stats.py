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
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, Callable

from .store import InstanceSnapshot, PrintSummary, Store

DAY = 86400.0
PRINT_WINDOW_DAYS = 30
TOP_PLUGINS = 25

# OctoPrint reports only third-party plugins already; these bundled ids are
# dropped defensively in case another client sends them.
BUNDLED_PLUGINS = frozenset(
    {
        "achievements",
        "action_command_notification",
        "action_command_prompt",
        "announcements",
        "appkeys",
        "backup",
        "corewizard",
        "discovery",
        "errortracking",
        "eventmanager",
        "file_check",
        "firmware_check",
        "gcodeviewer",
        "health_check",
        "logging",
        "pluginmanager",
        "softwareupdate",
        "tracking",
        "uploadmanager",
        "virtual_printer",
    }
)


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


def _active(snaps: Iterable[InstanceSnapshot], since: float, min_group: int) -> dict:
    snaps = [s for s in snaps if s.last_seen >= since]
    return {
        "instances": masked(len(snaps), min_group),
        "by_version": breakdown(
            Counter(s.version or "unknown" for s in snaps), min_group
        ),
        "by_python": breakdown(Counter(s.python or "unknown" for s in snaps), min_group),
        "by_os": breakdown(Counter(s.os or "unknown" for s in snaps), min_group),
    }


def _plugins(snaps: Iterable[InstanceSnapshot]) -> Counter:
    counter: Counter = Counter()
    for snap in snaps:
        if not snap.plugins:
            continue
        ids = set()
        for entry in snap.plugins.split(","):
            plugin_id = entry.split(":", 1)[0].strip().lower()
            if plugin_id and plugin_id not in BUNDLED_PLUGINS:
                ids.add(plugin_id)
        counter.update(ids)
    return counter


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


def compute_stats(
    store: Store,
    min_group: int = 10,
    now: float | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    now = clock() if now is None else now
    week = now - 7 * DAY
    snaps = store.instance_snapshots(week)
    weekly = [s for s in snaps if s.last_seen >= week]
    print_since = now - PRINT_WINDOW_DAYS * DAY
    return {
        "generated_at": datetime.fromtimestamp(now, timezone.utc).isoformat(),
        "min_group": min_group,
        "active": {
            "24h": _active(snaps, now - DAY, min_group),
            "7d": _active(snaps, week, min_group),
        },
        "prints": {
            "window_days": PRINT_WINDOW_DAYS,
            "per_day": [
                _print_row(s, min_group)
                for s in store.print_summaries(print_since, "day")
            ],
            "by_version": [
                _print_row(s, min_group)
                for s in store.print_summaries(print_since, "version")
            ],
            "per_day_by_version": [
                _print_row(s, min_group)
                for s in store.print_summaries(print_since, "day_version")
            ],
        },
        "firmware": breakdown(
            Counter(s.firmware or "unknown" for s in weekly), min_group
        ),
        "plugins": breakdown(_plugins(weekly), min_group, limit=TOP_PLUGINS),
        "countries": breakdown(
            Counter(s.country or "unknown" for s in weekly), min_group
        ),
    }
