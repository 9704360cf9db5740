"""The transparency ledger: per UTC day, what happened to reports and instances.

One table, ``daily_counts(day, kind, key, shard, n)``, counts the decisions that
leave the public numbers (the transparency report reads it, with ``ingest_counts``
for the reports accepted). Each count is written by the transaction that made the
decision, so the ledger and the data cannot disagree:

- ``refused``: reports refused, by error code (counted in memory by each process and
  added to its writer's next commit, never one write per refused request);
- ``held``: instances held now, by reason (the refresher's snapshot; a day's last
  snapshot is its figure);
- ``released`` / ``purged``: held cohorts put into the public numbers or deleted,
  key ``cohorts`` and ``instances``;
- ``forgotten``: instances deleted on request (``DELETE /track/<id>/``);
- ``expired``: instances deleted by the retention purge.

Keys are the collector's own words (error codes, hold reasons), never client text.
Rows are sharded like ``ingest_counts``: each process adds to its own shard, so
concurrent writers on PostgreSQL do not queue behind one row; readers sum them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

from ..timefmt import day_of
from .engine import Cursor, Engine
from .schema import Upsert

REFUSED = "refused"
HELD = "held"
RELEASED = "released"
PURGED = "purged"
FORGOTTEN = "forgotten"
EXPIRED = "expired"
# The key of a count of instances (released, purged, forgotten, expired) and of a
# count of cohorts (released, purged).
INSTANCES = "instances"
COHORTS = "cohorts"

# (day, kind, key, n): one count to add.
Count = tuple[int, str, str, int]

ADD_COUNT = Upsert(
    "daily_counts",
    ("day", "kind", "key", "shard", "n"),
    ("int4", "text", "text", "int4", "int8"),
    "ON CONFLICT (day, kind, key, shard) DO UPDATE SET n = daily_counts.n + excluded.n",
    key=4,
)


def decision(
    now: float | None, kind: str, instances: int, cohorts: int = 0
) -> list[Count]:
    """The counts of one decision about ``instances`` (and whole ``cohorts``) at
    ``now`` (default: the wall clock); nothing for a decision that touched no
    instance."""
    if not instances:
        return []
    day = day_of(time.time() if now is None else now)
    counts = [(day, kind, INSTANCES, instances)]
    if cohorts:
        counts.append((day, kind, COHORTS, cohorts))
    return counts


class Counts:
    """The ledger of one store (process): its writes and the report's read."""

    def __init__(self, engine: Engine, shard: int):
        self.engine = engine
        self.shard = shard

    def rows(self, counts: Iterable[Count]) -> list[tuple]:
        """The rows of ``daily_counts`` that add ``counts`` (this process's shard)."""
        summed: dict[tuple[int, str, str], int] = defaultdict(int)
        for day, kind, key, n in counts:
            summed[(day, kind, key)] += n
        return sorted(
            (d, k, key, self.shard, n) for (d, k, key), n in summed.items() if n
        )

    def add(self, q: Cursor, counts: Iterable[Count]) -> None:
        """Add ``counts`` inside the transaction ``q`` (this process's shard)."""
        self.engine.upsert(q, ADD_COUNT, self.rows(counts))

    def snapshot_held(self, q: Cursor, now: float) -> None:
        """Today's figure of held instances by reason: what the instances table
        says now (replacing the day's earlier snapshot)."""
        day = day_of(now)
        q.run("DELETE FROM daily_counts WHERE day = ? AND kind = ?", (day, HELD))
        q.run(
            "INSERT INTO daily_counts (day, kind, key, shard, n)"
            " SELECT ?, ?, held, 0, COUNT(*) FROM instances WHERE held IS NOT NULL"
            " GROUP BY held",
            (day, HELD),
        )


def read(
    q: Cursor, since_day: int, until_day: int
) -> dict[int, dict[tuple[str, str], int]]:
    """day -> (kind, key) -> n, shards summed."""
    result: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    for day, kind, key, n in q.rows(
        "SELECT day, kind, key, SUM(n) FROM daily_counts WHERE day >= ? AND day <= ?"
        " GROUP BY day, kind, key",
        (since_day, until_day),
    ):
        result[int(day)][(kind, key)] = int(n)
    return dict(result)
