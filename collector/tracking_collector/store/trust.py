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
other write of a running collector.
"""

from __future__ import annotations

from collections.abc import Sequence

from .engine import Engine


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

    def note_new(self, entries: Sequence[tuple[str, str, str]]) -> list[int]:
        """Record each (day, source, instance token): ``source`` created that new
        instance on ``day``. Returns, per entry and in order, the distinct new
        instances its source created that day (this one included). One
        transaction for the whole batch, its rows written in sorted order (as
        every writer does: see ``Engine.for_update``)."""
        counts: dict[tuple[str, str, str], int] = {}
        with self.engine.write() as q:
            for day, source, instance in sorted(set(entries)):
                q.run(
                    "INSERT INTO source_new (day, source, instance) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (day, source, instance),
                )
                rows = q.rows(
                    "SELECT COUNT(*) FROM source_new WHERE day = ? AND source = ?",
                    (day, source),
                )
                counts[(day, source, instance)] = int(rows[0][0])
        return [counts[entry] for entry in entries]

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
