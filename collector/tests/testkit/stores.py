"""Looking into a store from a test: what it holds, read through its engine.

These questions (how many rows, which ids, one day's rollup) are the tests'; the
store's own API has none of them. They read in the engine's read transaction, the
same one the store's reads use.
"""

from __future__ import annotations

import contextlib
from collections import Counter

TABLES = (
    "instances",
    "instance_days",
    "print_hours",
    "events",
    "rollups",
    "window_rollups",
    "ingest_counts",
    "dirty_days",
    "source_keys",
    "source_new",
)


def open_test_store(db: str):
    from tracking_collector.store import open_store

    return open_store(db, pool_size=4)


@contextlib.contextmanager
def store_of_schema(db: str, version: int, monkeypatch):
    """A store opened by code that stops before migration ``version`` + 1: the
    database as schema ``version`` left it, to fill with old rows; closed after."""
    from tracking_collector.store import schema

    with monkeypatch.context() as patch:
        patch.setattr(schema, "SCHEMA_VERSION", version)
        old = open_test_store(db)
        try:
            yield old
        finally:
            old.close()


def rows(store, sql: str, args=()) -> list[tuple]:
    with store.engine.read() as q:
        return q.rows(sql, args)


def stored(store) -> int:
    """Reports acknowledged into ``store`` (counted in the ingest transaction)."""
    return sum(n for day in store.ingest_counts().values() for n in day.values())


def hold(store, instance: str, reason: str) -> bool:
    """Hold one instance out of the public numbers (test setup: the collector
    holds new ids through admission and plausibility only), its days recomputed."""
    with store.engine.write() as q:
        held = q.run("UPDATE instances SET held = ? WHERE uuid = ?", (reason, instance))
    store.recompute()
    return bool(held)


def count_rows(store, table: str) -> int:
    if table not in TABLES:
        raise ValueError(table)
    return int(rows(store, f"SELECT COUNT(*) FROM {table}")[0][0])


def _held(held: bool | None) -> str:
    if held is None:
        return ""
    return " WHERE held IS NOT NULL" if held else " WHERE held IS NULL"


def uuids(store, held: bool | None = None) -> list[str]:
    """Ids of stored instances (all, only held, or only public), sorted."""
    return [
        u
        for (u,) in rows(store, f"SELECT uuid FROM instances{_held(held)} ORDER BY uuid")
    ]


def instance_count(store, held: bool | None = None) -> int:
    return int(rows(store, f"SELECT COUNT(*) FROM instances{_held(held)}")[0][0])


def day_counts(store, day: int) -> Counter:
    """The rollup of one day as a Counter of (metric, key)."""
    found = rows(store, "SELECT metric, key, value FROM rollups WHERE day = ?", (day,))
    return Counter({(m, k): int(v) for m, k, v in found})


def refreshed_at(store) -> float | None:
    """When the store's windows were last rewritten."""
    found = rows(store, "SELECT value FROM meta WHERE key = 'windows_at'")
    return found[0][0] if found else None


def source_keys(store) -> dict[str, bytes]:
    """The source keys in the store right now, by day."""
    return {
        day: bytes(key) for day, key in rows(store, "SELECT day, key FROM source_keys")
    }


def scrub(store) -> None:
    """Deleted data off the disk now, where the engine can (SQLite's WAL)."""
    store.engine.scrub()


def snapshot(store) -> dict:
    """Everything ``store`` holds about each instance, in a comparable form."""
    result = {}
    for iid in uuids(store):
        record = store.instance(iid)
        result[iid] = (
            record.first_seen,
            record.last_seen,
            record.env,
            record.last_print,
            record.held,
            # Source hashes depend on each store's own daily key: only presence compares.
            record.cohort is not None,
            [tuple(d) for d in record.days],
            [tuple(h) for h in record.print_hours],
            [(e.ts, e.event, e.version, e.fields) for e in record.events],
        )
    return {"instances": result, "counts": store.ingest_counts()}


def ephemeral(first: float, last: float, now: float, lifetime=None) -> bool:
    """The store's lifetime rule (``rollups.PUBLIC``, the one place it is written)
    for one instance seen from ``first`` to ``last``, judged at ``now``: evaluated
    by SQLite, for tests that simulate the policy without a store."""
    import sqlite3

    from tracking_collector.store.rollups import PUBLIC, Lifetime

    lifetime = lifetime or Lifetime()
    sql = (
        f"SELECT NOT ({PUBLIC})"
        " FROM (SELECT NULL AS held, ? AS first_seen, ? AS last_seen) AS i"
    )
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        return bool(conn.execute(sql, (*lifetime.args(now), first, last)).fetchone()[0])
