"""Which days' rollups must be recomputed (dirty marks), and an instance's days.

Every write that changes what a day's rollups would say marks the day dirty in the
same transaction; the refresher claims the marks and recomputes those days.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ..timefmt import day_of
from .engine import Cursor, Engine, chunked, placeholders
from .schema import MARK_DIRTY, SHARDS


class Locked(NamedTuple):
    """An instance row locked for this transaction (``Days.lock_instances``)."""

    id: int
    uuid: str
    first_seen: float
    last_seen: float
    held: str | None


class Days:
    """Dirty-day marks of one store (process) and the days of an instance."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # This process's shard of the rows every writer updates (see SHARDS).
        self.shard = random.randrange(SHARDS)  # noqa: S311 - spreads load, no secret

    def rows(self, days: Iterable[int]) -> list[tuple]:
        """This process's dirty marks of ``days`` (rows of ``dirty_days``)."""
        return [(d, self.shard) for d in sorted(set(days))]

    def mark(self, q: Cursor, days: Iterable[int]) -> None:
        self.engine.upsert(q, MARK_DIRTY, self.rows(days))

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

    def lock_instances(self, q: Cursor, where: str, args: Sequence[Any]) -> list[Locked]:
        """Lock every instance ``WHERE where`` for this transaction, in uuid order
        as ingest does (see ``Engine.for_update``); returns their rows. Done first
        in a transaction, before any other row is written."""
        return [
            Locked(*row)
            for row in q.rows(
                f"SELECT id, uuid, first_seen, last_seen, held FROM instances"
                f" WHERE {where}"
                f" ORDER BY uuid{self.engine.for_update}",
                args,
            )
        ]

    def only_lock_instances(self, q: Cursor, where: str, args: Sequence[Any]) -> None:
        """:meth:`lock_instances` for a transaction that needs no row of them: on
        an engine without row locks (SQLite: the write lock is the database's)
        nothing is read, on one with them only the ids travel."""
        if self.engine.for_update:
            q.run(
                f"SELECT id FROM instances WHERE {where}"
                f" ORDER BY uuid{self.engine.for_update}",
                args,
            )

    def mark_instances(self, q: Cursor, instances: Iterable[Locked]) -> None:
        """Mark every day the (locked) ``instances`` were active."""
        days: set[int] = set()
        for i in instances:
            days.update(self.of_instance(q, i.id, i.first_seen, i.last_seen))
        self.mark(q, days)
