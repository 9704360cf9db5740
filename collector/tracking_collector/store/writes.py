"""The write side of the store: reports in, instances forgotten, old days purged.

Each operation is one transaction. ``BatchWriter`` (writer.py) is the one caller
in a running collector; the CLI calls ``purge`` and ``copy_to`` directly.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from ..timefmt import day_of
from .counts import ADD_COUNT, EXPIRED, FORGOTTEN, Count, Counts, decision
from .days import Days
from .engine import Cursor, Engine, InstanceRecreated
from .model import Report, Stored, fold
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
# Runs of a batch at most while it finds instances forgotten under it (each run
# after the first reads which of its instances exist: a forget must commit
# between that read and the write, again, to need another).
RECREATED_RUNS = 3


def _reopened(report: Report) -> Report:
    """``report`` with a decision that took its instance as known left to the
    store's read instead."""
    p = report.pending
    if p is None or not p.known:
        return report
    return replace(report, pending=p._replace(known=False))


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
        transaction (all or nothing); what each report was stored as, in order.

        A decision that took an instance as existing (its process knew the id, or
        the read found its row) while the batch creates its row (the id was
        forgotten meanwhile, by any process, in whichever order) leaves nothing
        committed (``InstanceRecreated``): the batch runs again with every such
        decision left to the read, which notes the new ids first, as for any new
        id. So the id is noted, counted and held in the transaction that
        re-creates its row, and only a forgotten id pays for the second run."""
        if not reports and not counts:
            return []
        for run in range(1, RECREATED_RUNS + 1):
            try:
                return self._add_many(reports, counts)
            except InstanceRecreated:
                if run == RECREATED_RUNS:
                    raise
                reports = [_reopened(r) for r in reports]
        raise AssertionError("unreachable")

    def _add_many(
        self, reports: Sequence[Report], counts: Sequence[Count]
    ) -> list[Stored]:
        reads = any(r.pending is not None and not r.pending.known for r in reports)
        created: set[str] = set()
        with self.engine.batch(reads=reads) as q:
            settled, stored, existing = self.trust.settle(q, reports)
            if settled:
                created = self.ingest(q, settled, counts, existing)
            else:
                self.counts.add(q, counts)
        # A decided report (no Pending) is new if this batch created its row.
        return [
            s if s.new is not None else s._replace(new=r.instance in created)
            for r, s in zip(reports, stored)
        ]

    def ingest(
        self,
        q: Cursor,
        reports: Sequence[Report],
        ledger: Sequence[Count] = (),
        existing: Collection[str] = (),
    ) -> set[str]:
        """Fold ``reports`` in, and add ``ledger`` to the transparency ledger,
        inside the transaction ``q``; the uuids of the instance rows it created
        (``InstanceRecreated`` if one is in ``existing``)."""
        batch = fold(reports)
        # Last: the rows every concurrent writer updates (its own shard of them),
        # so their row locks (PostgreSQL) are held for the shortest time.
        shared = [
            Write(MARK_DIRTY, self.days.rows(day for day, _ in batch.counts)),
            Write(UPSERT_COUNT, counter_rows(batch, self.days.shard)),
            Write(ADD_COUNT, self.counts.rows(ledger)),
        ]
        return self.engine.write_batch(q, batch_writes(batch, shared), existing)

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
