"""Which days' rollups must be recomputed (dirty marks), and an instance's days.

Every write that changes what a day's rollups would say marks the day dirty in the
same transaction; the refresher claims the marks and recomputes those days.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

from ..timefmt import day_of
from .engine import Cursor, Engine, chunked, placeholders
from .schema import MARK_DIRTY, SHARDS


class Days:
    """Dirty-day marks of one store (process) and the days of an instance."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # This process's shard of the rows every writer updates (see SHARDS).
        self.shard = random.randrange(SHARDS)  # noqa: S311 - spreads load, no secret

    def mark(self, q: Cursor, days: Iterable[int]) -> None:
        self.engine.upsert(q, MARK_DIRTY, [(d, self.shard) for d in sorted(set(days))])

    def mark_all(self, q: Cursor) -> None:
        lo, hi = q.rows("SELECT MIN(day), MAX(day) FROM instance_days")[0]
        if lo is not None:
            self.mark(q, range(lo, hi + 1))

    def claim(self, q: Cursor) -> list[int]:
        return self.engine.claim_dirty(q)

    def of_instance(self, q: Cursor, iid: int, first: float, last: float) -> list[int]:
        """The days instance ``iid`` (seen from ``first`` to ``last``) was active."""
        # Point lookups on the (day, instance_id) key: no second index on the
        # biggest table just for the rare per-instance questions.
        span = list(range(day_of(first), day_of(last) + 1))
        days: list[int] = []
        for chunk in chunked(span):
            days += [
                d
                for (d,) in q.rows(
                    f"SELECT day FROM instance_days WHERE day IN {placeholders(chunk)}"
                    " AND instance_id = ?",
                    (*chunk, iid),
                )
            ]
        return sorted(days)

    def mark_instances(self, q: Cursor, where: str, args: Sequence[Any]) -> int:
        """Mark the days of every instance ``WHERE where``; returns how many."""
        rows = q.rows(
            f"SELECT id, first_seen, last_seen FROM instances WHERE {where}", args
        )
        days: set[int] = set()
        for iid, first, last in rows:
            days.update(self.of_instance(q, iid, first, last))
        self.mark(q, sorted(days))
        return len(rows)
