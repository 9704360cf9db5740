"""Storage of usage reports: instances, activity per instance-day and daily rollups.

``open_store(db)`` picks the backend: a ``postgresql://`` URL gives PostgreSQL
(several collectors share it), anything else is a SQLite file (the default).
The model, tables and methods are described in ``base.py``/``model.py`` and in the
collector README ("Storage").
"""

from __future__ import annotations

from .base import SCHEMA_VERSION, Store
from .model import (
    DAY,
    PRINT_EVENTS,
    WINDOWS,
    CohortSummary,
    InstanceRecord,
    Report,
    StoredEvent,
    day_iso,
    day_of,
)
from .postgres import DEFAULT_POOL_SIZE, PostgresStore, is_postgres_url
from .sqlite import SQLiteStore
from .writer import BatchWriter, WriterClosed


def open_store(
    db: str, *, synchronous: str = "NORMAL", pool_size: int = DEFAULT_POOL_SIZE
) -> Store:
    if is_postgres_url(db):
        return PostgresStore(db, pool_size=pool_size, synchronous=synchronous)
    return SQLiteStore(db, synchronous=synchronous)


__all__ = [
    "DAY",
    "PRINT_EVENTS",
    "SCHEMA_VERSION",
    "WINDOWS",
    "BatchWriter",
    "CohortSummary",
    "InstanceRecord",
    "PostgresStore",
    "Report",
    "SQLiteStore",
    "Store",
    "StoredEvent",
    "WriterClosed",
    "day_iso",
    "day_of",
    "is_postgres_url",
    "open_store",
]
