"""The write side of the store: reports in, instances forgotten, old days purged.

Each operation is one transaction. ``BatchWriter`` (writer.py) is the one caller
in a running collector; the CLI calls ``purge`` and ``copy_to`` directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..timefmt import day_of
from .counts import ADD_COUNT, EXPIRED, FORGOTTEN, Count, Counts, decision
from .days import Days
from .engine import Cursor, Engine
from .model import Pending, Report, Stored, fold
from .schema import MARK_DIRTY, UPSERT_COUNT, Write, batch_writes, counter_rows
from .trust import TrustTables

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
    def __init__(self, engine: Engine, days: Days, counts: Counts, trust: TrustTables):
        self.engine = engine
        self.days = days
        self.counts = counts
        self.trust = trust

    def add_many(
        self, reports: Sequence[Report], counts: Sequence[Count] = ()
    ) -> list[Stored]:
        """Durably fold ``reports`` into the store, their pending admission
        decisions completed, and add ``counts`` to the transparency ledger, in one
        transaction (all or nothing); what each report was stored as, in order."""
        if not reports and not counts:
            return []
        pending = any(r.pending is not None for r in reports)
        created: set[str] = set()
        with self.engine.batch(reads=pending) as q:
            settled, stored = self.trust.settle(q, reports)
            if settled:
                created = self.ingest(q, settled, counts)
            else:
                self.counts.add(q, counts)
        # A decided report (no Pending) is new if this batch created its row.
        return [
            s if s.new is not None else s._replace(new=r.instance in created)
            for r, s in zip(reports, stored)
        ]

    def complete(self, instance: str, pending: Pending) -> Stored:
        """Complete the admission of a report decided as from a known instance
        whose row the writer nevertheless created: the process that admitted it
        knew the id, but it was forgotten (in another process) meanwhile. As
        :meth:`add_many` does for a Pending decision, in one transaction: the id
        noted among its source's new ids of the day, and the instance held if the
        decision for a new instance holds it. Locks in the order of
        ``TrustTables.settle``: its source's row, its instance row, then its days'
        dirty marks."""
        with self.engine.write() as q:
            created = self.trust.count_new(q, [pending])
            count = created.get((pending.day, pending.source), 0)
            held = pending.held(True, count)
            found = self.days.lock_instances(q, "uuid = ?", (instance,))
            public = [i for i in found if i.held is None]
            if held is not None and public:
                self.days.mark_instances(q, public)
                q.run(
                    "UPDATE instances SET held = ? WHERE id = ? AND released = 0",
                    (held, public[0].id),
                )
        return Stored(held, True, count)

    def ingest(
        self, q: Cursor, reports: Sequence[Report], ledger: Sequence[Count] = ()
    ) -> set[str]:
        """Fold ``reports`` in, and add ``ledger`` to the transparency ledger,
        inside the transaction ``q``; the uuids of the instance rows it created."""
        batch = fold(reports)
        # Last: the rows every concurrent writer updates (its own shard of them),
        # so their row locks (PostgreSQL) are held for the shortest time.
        shared = [
            Write(MARK_DIRTY, self.days.rows(day for day, _ in batch.counts)),
            Write(UPSERT_COUNT, counter_rows(batch, self.days.shard)),
            Write(ADD_COUNT, self.counts.rows(ledger)),
        ]
        return self.engine.write_batch(q, batch_writes(batch, shared))

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
        # The instance row first: a report of it being ingested meanwhile holds it
        # and then writes its day (see Engine.for_update).
        found = self.days.lock_instances(q, "uuid = ?", (instance,))
        if not found:
            return 0
        iid, _, first, last, _ = found[0]
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
            # The instances it deletes first (see Engine.for_update).
            self.days.only_lock_instances(q, "last_seen < ?", (older_than,))
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
