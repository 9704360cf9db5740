"""The small-group rule: no published number singles out a handful of instances.

Every number that counts instances is shown only for a group of at least
``min_group`` instances; a smaller group is the string ``"<N"``, never exact, so
that a rare combination (an odd plugin, a small country) cannot single out an
installation. When exactly one group of a breakdown would be hidden, the next
smallest is hidden too, so the small one cannot be recovered as the total minus the
visible groups. A figure that is not an instance count (print seconds, install
events, print outcomes) is shown only where the instances behind it are enough.

Every publisher (stats, exports, history, and later pages) applies it through
these functions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def small(min_group: int) -> str:
    return f"<{min_group}"


def masked(value: int, min_group: int) -> int | str:
    """An instance count as published: itself, or "<N" below the minimum."""
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


def masked_map(counter: Mapping[Any, int], min_group: int) -> dict[str, int | str]:
    """{key: instances} largest first, small groups as "<N" (as :func:`breakdown`:
    a single hidden group is not left to work out as the total minus the others)."""
    rows = breakdown(Counter(counter), min_group)
    return {str(r["key"]): r["instances"] for r in rows}


def hidden_unless(value: Any, instances: int, min_group: int) -> Any:
    """A figure that is not a count of instances, shown only for a big enough group."""
    return value if instances >= min_group else None


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


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def print_row(summary: PrintSummary, min_group: int) -> dict[str, Any]:
    """A print summary as published: counts and rates, or none of them for a
    group of fewer printing instances than the minimum."""
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
