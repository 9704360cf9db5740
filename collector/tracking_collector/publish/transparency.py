"""The transparency report (``/api/transparency`` and the dashboard's section): per
UTC day, what happened to reports and instances before and after the public
numbers.

Per day: reports accepted (the store's ingest counters: each acknowledged report
counts on the day it claims), reports refused by error code (on the day they
arrived), instances held out of the public numbers by reason (the day's last
snapshot), cohorts and their instances released into them or purged, instances
forgotten on their own request and instances expired by the retention purge. It
reads the ledger only (``store/counts.py``), never a row per instance, and every
figure is a count of the collector's own decisions, published whatever its size
(small ones included: "1 instance held as implausible:<rule>" is the point of the
report). No figure says anything about what those instances run or where, so a
count here cannot be matched with a hidden group of the other views.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..store.counts import (
    COHORTS,
    EXPIRED,
    FORGOTTEN,
    HELD,
    INSTANCES,
    PURGED,
    REFUSED,
    RELEASED,
)
from ..timefmt import DAY, day_iso, iso

# Days the report covers unless asked otherwise (at most the history's days).
DEFAULT_DAYS = 30
# Figures that add up over days (held is a snapshot: its days do not add up).
ADDITIVE = ("accepted", "refused", "released", "purged", "forgotten", "expired")

Ledger = Mapping[int, Mapping[tuple[str, str], int]]


def _by_key(counts: Mapping[tuple[str, str], int], kind: str) -> dict[str, int]:
    found = {key: n for (k, key), n in counts.items() if k == kind and n}
    return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))


def day_entry(
    day: int, counts: Mapping[tuple[str, str], int], accepted: Mapping[str, int]
) -> dict[str, Any]:
    def decisions(kind: str) -> dict[str, int]:
        return {k: counts.get((kind, k), 0) for k in (COHORTS, INSTANCES)}

    return {
        "day": day_iso(day),
        "accepted": sum(accepted.values()),
        "refused": _by_key(counts, REFUSED),
        "held": _by_key(counts, HELD),
        "released": decisions(RELEASED),
        "purged": decisions(PURGED),
        "forgotten": counts.get((FORGOTTEN, INSTANCES), 0),
        "expired": counts.get((EXPIRED, INSTANCES), 0),
    }


def totals(days: list[dict[str, Any]]) -> dict[str, Any]:
    """The additive figures summed over ``days``."""
    result: dict[str, Any] = {}
    for name in ADDITIVE:
        values = [d[name] for d in days]
        if isinstance(values[0], dict):
            summed: Counter = Counter()
            for value in values:
                summed.update(value)
            result[name] = dict(sorted(summed.items(), key=lambda kv: (-kv[1], kv[0])))
        else:
            result[name] = sum(values)
    for name in ("released", "purged"):
        result[name] = {k: result[name].get(k, 0) for k in (COHORTS, INSTANCES)}
    return result


def document(
    ledger: Ledger,
    accepted: Mapping[int, Mapping[str, int]],
    first: int,
    last: int,
    now: float,
) -> dict[str, Any]:
    """The report for the days ``first`` to ``last`` (oldest first)."""
    days = [
        day_entry(day, ledger.get(day, {}), accepted.get(day, {}))
        for day in range(first, last + 1)
    ]
    return {
        "_since": iso(first * DAY),
        "_generated": iso(now),
        "days": days,
        "totals": totals(days),
    }
