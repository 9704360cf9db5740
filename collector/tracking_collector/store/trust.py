"""The admission's shared state in the store: the daily source keys and the new
instance ids per source, the same for every process and machine of one collector.

Tables (see ``schema.ENSURED``):

- ``source_keys(day, key)``: the random key of each UTC day (see
  ``trust/sources.py``). Only today's row exists for long: the first process to see
  a new day deletes the older ones, and the engine leaves no dead copy of them
  (PostgreSQL: the table is ``UNLOGGED``, so a key never enters the WAL, and
  rewritten after a delete; SQLite: ``secure_delete`` and a WAL checkpoint).
- ``source_new(day, source, instance)``: which new instance ids (keyed hashes)
  each source hash created that day (the admission budget counts them); older days
  are dropped.

The writes here run on the store's single writer (``BatchWriter``), like every
other write of a running collector; the new ids are noted in the transaction that
stores their reports (:meth:`TrustTables.settle`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .engine import Cursor, Engine, chunked, placeholders
from .model import Pending, Report, Stored
from .schema import NOTE_NEW


class TrustTables:
    def __init__(self, engine: Engine):
        self.engine = engine

    def source_key(self, day: str, candidate: bytes) -> bytes:
        """The key of ``day``; stores ``candidate`` first if the day has none yet.
        Atomic across processes: all get the key that was stored first."""
        with self.engine.write() as q:
            q.run(
                "INSERT INTO source_keys (day, key) VALUES (?, ?)"
                " ON CONFLICT (day) DO NOTHING",
                (day, candidate),
            )
            return bytes(
                q.rows("SELECT key FROM source_keys WHERE day = ?", (day,))[0][0]
            )

    def drop_source_keys(self, before_day: str) -> int:
        """Destroy the keys of every day before ``before_day``; how many."""
        with self.engine.write() as q:
            deleted = q.run("DELETE FROM source_keys WHERE day < ?", (before_day,))
            if deleted:
                self.engine.erase(q, "source_keys")
        if deleted:
            self.engine.scrub()
        return deleted

    def settle(
        self, q: Cursor, reports: Sequence[Report]
    ) -> tuple[list[Report], list[Stored]]:
        """Complete the admission decisions ``reports`` left pending, inside the
        transaction ``q`` that stores them: which of their instances the store
        has (one read per batch), the new ones noted among their source's new ids
        of the day (rows sorted, like every writer's), and the count of each
        source. Returns the reports with ``held`` set, and what each is stored as.
        """
        waiting = [r for r in reports if r.pending is not None]
        if not waiting:
            return list(reports), [Stored(r.held, None, 0) for r in reports]
        existing = self._existing(q, sorted({r.instance for r in waiting}))
        created = self.count_new(
            q, [r.pending for r in waiting if r.instance not in existing]
        )
        settled, stored = [], []
        for report in reports:
            p = report.pending
            if p is None:
                settled.append(report)
                stored.append(Stored(report.held, None, 0))
                continue
            new = report.instance not in existing
            count = created.get((p.day, p.source), 0) if new else 0
            held = p.held(new, count)
            settled.append(replace(report, held=held, pending=None))
            stored.append(Stored(held, new, count))
        return settled, stored

    def count_new(
        self, q: Cursor, new: Sequence[Pending]
    ) -> dict[tuple[str | None, str | None], int]:
        """Note the instances of ``new`` (decisions about instances new to the
        store) among their source's new ids of the day, inside the transaction
        ``q`` (rows sorted, like every writer's); the new ids of each (day,
        source) so far, counted up to its budget + 1."""
        notes: set[tuple[str, str | None, str]] = set()
        limits: dict[tuple[str, str | None], int] = {}
        for p in new:
            if p.token is not None:
                notes.add((p.day, p.source, p.token))
                limits[(p.day, p.source)] = p.budget + 1
        self.engine.upsert(q, NOTE_NEW, sorted(notes))
        return self.engine.count_noted(q, sorted(limits.items()))

    @staticmethod
    def _existing(q: Cursor, uuids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunked(uuids):
            found.update(
                u
                for (u,) in q.rows(
                    f"SELECT uuid FROM instances WHERE uuid IN {placeholders(chunk)}",
                    chunk,
                )
            )
        return found

    def bursting(self, budget: int) -> list[str]:
        """Sources of any stored day that created more than ``budget`` new ids."""
        with self.engine.read() as q:
            rows = q.rows(
                "SELECT source FROM source_new GROUP BY day, source HAVING COUNT(*) > ?",
                (budget,),
            )
        return sorted({source for (source,) in rows})

    def drop_source_counts(self, before_day: str) -> int:
        """Drop the per-source counts of days before ``before_day``."""
        with self.engine.write() as q:
            return q.run("DELETE FROM source_new WHERE day < ?", (before_day,))
