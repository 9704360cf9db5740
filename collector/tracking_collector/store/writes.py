"""The write side of the store: reports in, instances forgotten, old days purged.

Each operation is one transaction. ``BatchWriter`` (writer.py) is the one caller
in a running collector; the CLI calls ``purge`` and ``copy_to`` directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..timefmt import day_of
from .days import Days
from .engine import Cursor, Engine
from .model import Report, Stored, fold
from .schema import batch_writes
from .trust import TrustTables

COPIED_TABLES = ("instances", "instance_days", "events", "ingest_counts")


class Writes:
    def __init__(self, engine: Engine, days: Days, trust: TrustTables):
        self.engine = engine
        self.days = days
        self.trust = trust

    def add_many(self, reports: Sequence[Report]) -> list[Stored]:
        """Durably fold ``reports`` into the store (all or nothing), their pending
        admission decisions completed in the same transaction; what each report
        was stored as, in order."""
        if not reports:
            return []
        with self.engine.batch() as q:
            settled, stored = self.trust.settle(q, reports)
            self.ingest(q, settled)
        return stored

    def ingest(self, q: Cursor, reports: Sequence[Report]) -> None:
        """Fold ``reports`` in, inside the transaction ``q``."""
        batch = fold(reports)
        dirty = self.days.rows(day for day, _ in batch.counts)
        self.engine.write_batch(q, batch_writes(batch, dirty, self.days.shard))

    def forget(self, instance: str) -> int:
        """Remove every trace of ``instance``; rows deleted (0 if unknown).

        Its days are marked dirty, so the next refresh recomputes their rollups
        without it.
        """
        with self.engine.write() as q:
            deleted = self.forget_in(q, instance)
        if deleted:
            self.engine.scrub()
        return deleted

    def forget_in(self, q: Cursor, instance: str) -> int:
        """:meth:`forget` inside the transaction ``q`` (no scrub)."""
        # The instance row first: a report of it being ingested meanwhile holds it
        # and then writes its day (see Engine.for_update).
        found = self.days.lock_instances(q, "uuid = ?", (instance,))
        if not found:
            return 0
        iid, _, first, last, _ = found[0]
        days = self.days.of_instance(q, iid, first, last)
        q.many(
            "DELETE FROM instance_days WHERE day = ? AND instance_id = ?",
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

    def purge(self, older_than: float) -> int:
        """Retention by day: drop days before ``older_than``'s day, and instances
        not seen since ``older_than``; returns the number of rows deleted."""
        cutoff = day_of(older_than)
        deleted = 0
        with self.engine.write() as q:
            # The instances it deletes first (see Engine.for_update).
            self.days.lock_instances(q, "last_seen < ?", (older_than,))
            for table in ("instance_days", "events", "rollups", "ingest_counts"):
                deleted += q.run(f"DELETE FROM {table} WHERE day < ?", (cutoff,))
            q.run("DELETE FROM dirty_days WHERE day < ?", (cutoff,))
            # Instances not seen since older_than: only their rows on the cutoff
            # day itself can be left after the day-wise deletes above.
            stale = "SELECT id FROM instances WHERE last_seen < ?"
            for table in ("instance_days", "events"):
                deleted += q.run(
                    f"DELETE FROM {table} WHERE day = ? AND instance_id IN ({stale})",
                    (cutoff, older_than),
                )
            deleted += q.run("DELETE FROM instances WHERE last_seen < ?", (older_than,))
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
