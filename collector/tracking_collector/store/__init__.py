"""Storage of usage reports: instances, activity per instance-day and daily rollups.

The only package that knows which database it runs on. ``open_store(db)`` picks
the engine: a ``postgresql://`` URL gives PostgreSQL (several collectors share
it), anything else is a SQLite file (the default). Every write of a running
collector goes through its process's :class:`BatchWriter`.

The collector README has its modules ("Code layout") and tables ("Storage").
"""

from __future__ import annotations

from .facade import Store
from .model import (
    PRINT_EVENTS,
    WINDOWS,
    CohortSummary,
    InstanceRecord,
    Pending,
    Report,
    Stored,
    StoredEvent,
)
from .postgres import DEFAULT_POOL_SIZE, PostgresStore, is_postgres_url
from .rollups import Lifetime
from .schema import SCHEMA_VERSION
from .sqlite import SQLiteStore
from .writer import BatchWriter, WriterClosed


def open_store(
    db: str,
    *,
    synchronous: str = "NORMAL",
    pool_size: int = DEFAULT_POOL_SIZE,
    lifetime: Lifetime | None = None,
) -> Store:
    if is_postgres_url(db):
        return PostgresStore(
            db, pool_size=pool_size, synchronous=synchronous, lifetime=lifetime
        )
    return SQLiteStore(db, synchronous=synchronous, lifetime=lifetime)


__all__ = [
    "DEFAULT_POOL_SIZE",
    "PRINT_EVENTS",
    "SCHEMA_VERSION",
    "WINDOWS",
    "BatchWriter",
    "CohortSummary",
    "InstanceRecord",
    "Lifetime",
    "Pending",
    "PostgresStore",
    "Report",
    "SQLiteStore",
    "Store",
    "Stored",
    "StoredEvent",
    "WriterClosed",
    "is_postgres_url",
    "open_store",
]
