"""The write side of the store: reports in, instances forgotten, old days purged.

Each operation is one transaction. ``BatchWriter`` (writer.py) is the one caller
in a running collector; the CLI calls ``purge`` and ``copy_to`` directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..timefmt import day_of
from .counts import EXPIRED, FORGOTTEN, Count, Counts, decision
from .days import Days
from .engine import Cursor, Engine
from .model import Report, fold
from .schema import (
    INSERT_EVENT,
    UPSERT_COUNT,
    UPSERT_DAY,
    UPSERT_INSTANCE,
    UPSERT_PRINT_HOUR,
    counter_rows,
    day_rows,
    event_rows,
    instance_rows,
    print_hour_rows,
)

# Every table of data (not the rollups, which the target recomputes): the archive
# and the transparency ledger move with the data, since they outlive it.
COPIED_TABLES = (
    "instances",
    "instance_days",
    "print_hours",
    "events",
    "ingest_counts",
    "daily_counts",
    "archive",
    "archive_entries",
)
# Tables of rows per instance and day: forgotten, and purged by day, alike.
_DAY_TABLES = ("instance_days", "print_hours")
# Tables whose rows belong to a day and go with it at the retention cutoff (the
# ledger too: its figures sit beside the reports accepted, which go with their day).
PURGED_BY_DAY = (*_DAY_TABLES, "events", "rollups", "ingest_counts", "daily_counts")


class Writes:
    def __init__(self, engine: Engine, days: Days, counts: Counts):
        self.engine = engine
        self.days = days
        self.counts = counts

    def add_many(self, reports: Sequence[Report], counts: Sequence[Count] = ()) -> None:
        """Durably fold ``reports`` into the store, and add ``counts`` to the
        transparency ledger, in one transaction (all or nothing)."""
        if reports or counts:
            with self.engine.write() as q:
                if reports:
                    self.ingest(q, reports)
                self.counts.add(q, counts)

    def ingest(self, q: Cursor, reports: Sequence[Report]) -> None:
        """Fold ``reports`` in, inside the transaction ``q``."""
        batch = fold(reports)
        engine = self.engine
        with engine.pipeline(q):
            ids = engine.upsert_instances(q, UPSERT_INSTANCE, instance_rows(batch))
            by_uuid = ids is None
            engine.upsert(q, UPSERT_DAY, day_rows(batch, ids), by_uuid=by_uuid)
            hours = print_hour_rows(batch, ids)
            if hours:  # only batches with a finished print
                engine.upsert(q, UPSERT_PRINT_HOUR, hours, by_uuid=by_uuid)
            if batch.events:
                engine.upsert(q, INSERT_EVENT, event_rows(batch, ids), by_uuid=by_uuid)
            # Last: the dirty marks and counter rows are the ones every concurrent
            # writer updates, so their row locks (PostgreSQL) are held only until
            # the commit right after.
            self.days.mark(q, (day for day, _ in batch.counts))
            engine.upsert(q, UPSERT_COUNT, counter_rows(batch, self.days.shard))

    def forget(self, instance: str, now: float | None = None) -> int:
        """Remove every trace of ``instance`` on its request; rows deleted (0 if
        unknown). The ledger counts it (on ``now``'s day) in the same transaction.

        Its days are marked dirty, so the next refresh recomputes their rollups
        without it.
        """
        with self.engine.write() as q:
            deleted = self.forget_in(q, instance)
            self.counts.add(q, decision(now, FORGOTTEN, 1 if deleted else 0))
        if deleted:
            self.engine.scrub()
        return deleted

    def forget_in(self, q: Cursor, instance: str) -> int:
        """:meth:`forget` inside the transaction ``q`` (no scrub)."""
        found = q.rows(
            "SELECT id, first_seen, last_seen FROM instances WHERE uuid = ?", (instance,)
        )
        if not found:
            return 0
        iid, first, last = found[0]
        days = self.days.of_instance(q, iid, first, last)
        for table in _DAY_TABLES:
            q.many(
                f"DELETE FROM {table} WHERE day = ? AND instance_id = ?",
                [(d, iid) for d in days],
            )
        event_days = [
            d
            for (d,) in q.rows(
                "SELECT DISTINCT day FROM events WHERE instance_id = ?", (iid,)
            )
        ]
        events = q.run("DELETE FROM events WHERE instance_id = ?", (iid,))
        q.run("DELETE FROM instances WHERE id = ?", (iid,))
        self.days.mark(q, sorted(set(days) | set(event_days)))
        return 1 + len(days) + events

    def purge(self, older_than: float, now: float | None = None) -> int:
        """Retention by day: drop days before ``older_than``'s day, and instances
        not seen since ``older_than``; returns the number of rows deleted. The
        ledger counts the instances that expired (on ``now``'s day). The archive
        is not touched: it is kept beyond retention."""
        cutoff = day_of(older_than)
        deleted = 0
        with self.engine.write() as q:
            for table in PURGED_BY_DAY:
                deleted += q.run(f"DELETE FROM {table} WHERE day < ?", (cutoff,))
            q.run("DELETE FROM dirty_days WHERE day < ?", (cutoff,))
            # Instances not seen since older_than: only their rows on the cutoff
            # day itself can be left after the day-wise deletes above.
            stale = "SELECT id FROM instances WHERE last_seen < ?"
            for table in (*_DAY_TABLES, "events"):
                deleted += q.run(
                    f"DELETE FROM {table} WHERE day = ? AND instance_id IN ({stale})",
                    (cutoff, older_than),
                )
            expired = q.run("DELETE FROM instances WHERE last_seen < ?", (older_than,))
            self.counts.add(q, decision(now, EXPIRED, expired))
            deleted += expired
        if deleted:
            self.engine.scrub()
        return deleted

    def copy_to(self, target: Engine) -> dict[str, int]:
        """Copy every stored instance, day, event and counter into the empty store
        behind ``target``; rows per table. The caller recomputes its rollups."""
        with target.read() as q:
            for table in COPIED_TABLES:
                if q.rows(f"SELECT COUNT(*) FROM {table}")[0][0]:
                    raise ValueError(f"target table {table} is not empty")
        copied = {}
        for table in COPIED_TABLES:
            with self.engine.read() as q:
                columns = self.engine.columns(q, table)
                rows = q.rows(f"SELECT {', '.join(columns)} FROM {table}")
            target.bulk_insert(table, columns, rows)
            copied[table] = len(rows)
        target.after_copy()
        return copied
