"""Admission state in the collector's database: the daily source keys and the new
instance ids per source, shared by every process and machine of one collector.

Tables (created here, on SQLite and PostgreSQL alike):

- ``source_keys(day, key)``: the random key of each UTC day (see :mod:`.sources`).
  Only today's row exists for long: the first process to see a new day deletes the
  older ones. On PostgreSQL the table is ``UNLOGGED``, so a key is never written to
  the WAL (a crash empties it; the day then gets a new key, which only splits that
  day's cohorts), and a deletion is followed by ``TRUNCATE`` and re-insertion of the
  current row, which gives the table a new file instead of leaving dead tuples. On
  SQLite ``secure_delete`` zeroes the deleted row and a WAL checkpoint truncates the
  log.
- ``source_new(day, source, instance)``: which new instance ids each source hash
  created that day (the admission budget counts them); older days are dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .store import PostgresStore, Store

# Recently confirmed instance ids per process: most reports come from instances the
# store already has, and the cache spares one read transaction for each of them.
KNOWN_CACHE = 200_000


def _ddl(store: Store) -> list[str]:
    postgres = isinstance(store, PostgresStore)
    blob = "BYTEA" if postgres else "BLOB"
    unlogged = "UNLOGGED " if postgres else ""
    return [
        f"CREATE {unlogged}TABLE IF NOT EXISTS source_keys"
        f" (day TEXT PRIMARY KEY, key {blob} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS source_new (day TEXT NOT NULL, source TEXT NOT NULL,"
        " instance TEXT NOT NULL, PRIMARY KEY (day, source, instance))",
    ]


class StoreKeys:
    """:class:`~tracking_collector.sources.KeyBackend` in ``source_keys``."""

    def __init__(self, store: Store):
        self.store = store
        self._postgres = isinstance(store, PostgresStore)
        with store._tx() as q:
            # Under the store's migration lock: on PostgreSQL, concurrent CREATE
            # TABLE IF NOT EXISTS from several starting workers can still collide
            # in the catalog (duplicate pg_type entry) and fail a worker's boot.
            store._migration_lock(q)
            for statement in _ddl(store):
                q.run(statement)

    def key_for_day(self, day: str, candidate: bytes) -> bytes:
        with self.store._tx() as q:
            q.run(
                "INSERT INTO source_keys (day, key) VALUES (?, ?)"
                " ON CONFLICT (day) DO NOTHING",
                (day, candidate),
            )
            return bytes(
                q.rows("SELECT key FROM source_keys WHERE day = ?", (day,))[0][0]
            )

    def delete_keys_before(self, day: str) -> int:
        with self.store._tx() as q:
            deleted = q.run("DELETE FROM source_keys WHERE day < ?", (day,))
            if deleted and self._postgres:
                # A deleted tuple stays in the table's file until VACUUM reuses the
                # space; TRUNCATE swaps in an empty file at once (and is
                # transactional, unlike VACUUM FULL).
                keep = q.rows("SELECT day, key FROM source_keys")
                q.run("TRUNCATE source_keys")
                q.many("INSERT INTO source_keys (day, key) VALUES (?, ?)", keep)
        if deleted:
            self.store._after_delete()
        return deleted


class StoreState:
    """:class:`~tracking_collector.admission.AdmissionState` on the collector's store."""

    def __init__(self, store: Store, cache: int = KNOWN_CACHE):
        self.store = store
        self._known: OrderedDict[str, None] = OrderedDict()
        self._cache = cache
        self._lock = threading.Lock()

    def is_known(self, instance: str) -> bool:
        with self._lock:
            if instance in self._known:
                self._known.move_to_end(instance)
                return True
        with self.store._read() as q:
            found = bool(q.rows("SELECT 1 FROM instances WHERE uuid = ?", (instance,)))
        if found:
            with self._lock:
                self._known[instance] = None
                while len(self._known) > self._cache:
                    self._known.popitem(last=False)
        return found

    def forget_known(self, instance: str) -> None:
        """After a forget or purge the id is new again."""
        with self._lock:
            self._known.pop(instance, None)

    def note_new(self, day: str, source: str, instance: str) -> int:
        with self.store._tx() as q:
            q.run(
                "INSERT INTO source_new (day, source, instance) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (day, source, instance),
            )
            rows = q.rows(
                "SELECT COUNT(*) FROM source_new WHERE day = ? AND source = ?",
                (day, source),
            )
        return int(rows[0][0])

    def hold_cohort(self, cohort: str, reason: str) -> int:
        return self.store.hold_cohort(cohort, reason)

    def bursting(self, budget: int) -> list[str]:
        """Sources of any stored day that created more than ``budget`` new ids."""
        with self.store._read() as q:
            rows = q.rows(
                "SELECT source FROM source_new GROUP BY day, source HAVING COUNT(*) > ?",
                (budget,),
            )
        return sorted({source for (source,) in rows})

    def forget_days_before(self, day: str) -> int:
        with self.store._tx() as q:
            return q.run("DELETE FROM source_new WHERE day < ?", (day,))
