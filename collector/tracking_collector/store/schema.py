"""The store's tables, their migrations, and the statements that write reports.

All SQL of the store is written once with ``?`` placeholders in the subset both
engines accept (``INSERT ... ON CONFLICT``, ``RETURNING``, integer
``|``/``&``/``>>``); the few words that differ (key and float types, ``UNLOGGED``,
``WITHOUT ROWID``, fill factor) come from the engine's ``ddl``. The storage model
is described in ``model.py`` and the collector README ("Storage").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from .engine import Cursor, Engine
from .model import ENV_COLUMNS, PLUGIN_EVENT_METRICS, PRINT_COLUMNS, Batch, Report

SCHEMA_VERSION = 4

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value {real} NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
    id {pk},
    uuid TEXT NOT NULL UNIQUE,
    first_seen {real} NOT NULL,
    last_seen {real} NOT NULL,
    {env_columns},
    last_print {real},
    held TEXT,
    cohort TEXT,
    released INTEGER NOT NULL DEFAULT 0
){fill};
CREATE INDEX IF NOT EXISTS instances_cohort ON instances (cohort);
CREATE TABLE IF NOT EXISTS instance_days (
    day INTEGER NOT NULL,
    instance_id {ref} NOT NULL,
    hours INTEGER NOT NULL,
    version TEXT,
    started INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, instance_id)
){without_rowid}{fill};
CREATE TABLE IF NOT EXISTS events (
    id {pk},
    instance_id {ref} NOT NULL,
    day INTEGER NOT NULL,
    ts {real} NOT NULL,
    event TEXT NOT NULL,
    key TEXT,
    version TEXT,
    fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_instance ON events (instance_id, ts);
CREATE INDEX IF NOT EXISTS events_day ON events (day);
CREATE TABLE IF NOT EXISTS rollups (
    day INTEGER NOT NULL,
    metric TEXT NOT NULL,
    key TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (metric, day, key)
){without_rowid};
CREATE INDEX IF NOT EXISTS rollups_day ON rollups (day);
CREATE TABLE IF NOT EXISTS window_rollups (
    win INTEGER NOT NULL,
    metric TEXT NOT NULL,
    key TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (win, metric, key)
){without_rowid};
CREATE TABLE IF NOT EXISTS ingest_counts (
    day INTEGER NOT NULL,
    event TEXT NOT NULL,
    shard INTEGER NOT NULL DEFAULT 0,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, event, shard)
){without_rowid};
CREATE TABLE IF NOT EXISTS dirty_days (
    day INTEGER NOT NULL,
    shard INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, shard)
){without_rowid}
"""

# Schema 1's environment columns, frozen: a new database is created as schema 1
# and migrated like an old one, so both end up with the same tables.
_ENV_COLUMNS_V1 = (
    "version", "python", "os", "bits", "cores", "pi_model", "octopi", "firmware",
    "plugins", "browser", "country", "city",
)  # fmt: skip
# The plugin install/uninstall events, as a condition written out in full (not as
# parameters): the partial index below and the queries that use it must say the
# same, or the engines cannot tell that the index applies.
PLUGIN_EVENTS = "event IN ({})".format(
    ", ".join(f"'{e}'" for e in sorted(PLUGIN_EVENT_METRICS))
)
# Migrations: schema version -> statements that bring schema version - 1 to it
# (with the engine's DDL words, as the schema above). ADD COLUMN with a constant
# default is a metadata change on both engines (no table rewrite), so it is quick
# on big tables.
MIGRATIONS = {
    2: [
        # print seconds per instance-day; env values for rpi/client exports
        "ALTER TABLE instance_days ADD COLUMN print_seconds BIGINT NOT NULL DEFAULT 0",
        *(
            f"ALTER TABLE instances ADD COLUMN {c} TEXT"
            for c in ("octopiuptodate_build", "browser_version", "client_os")
        ),
    ],
    3: [
        # Print seconds per instance and UTC hour in which the prints finished: one
        # row per instance-hour with a finished print (sparse), for the hourly
        # printing histogram.
        "CREATE TABLE IF NOT EXISTS print_hours (day INTEGER NOT NULL,"
        " instance_id {ref} NOT NULL, hour INTEGER NOT NULL, seconds BIGINT NOT NULL,"
        " PRIMARY KEY (day, instance_id, hour)){without_rowid}",
        # The latest achievements an instance reported (pong), normalised.
        "ALTER TABLE instances ADD COLUMN achievements TEXT",
        # Distinct installing instances per window read the plugin events of 30
        # days: indexed apart (a few rows), not by scanning every event.
        f"CREATE INDEX IF NOT EXISTS events_plugin ON events (day) WHERE {PLUGIN_EVENTS}",
    ],
    # The dated archive and the transparency ledger (store/archive.py,
    # store/counts.py). The archive is no WITHOUT ROWID table: its rows are files.
    4: [
        "CREATE TABLE IF NOT EXISTS archive (day INTEGER NOT NULL, name TEXT NOT NULL,"
        " schema_version INTEGER NOT NULL, sha256 TEXT NOT NULL, bytes BIGINT NOT NULL,"
        " created {real} NOT NULL, body {blob} NOT NULL, PRIMARY KEY (day, name))",
        "CREATE TABLE IF NOT EXISTS archive_entries (key TEXT NOT NULL,"
        " day INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (key, day))"
        "{without_rowid}",
        "CREATE TABLE IF NOT EXISTS daily_counts (day INTEGER NOT NULL,"
        " kind TEXT NOT NULL, key TEXT NOT NULL, shard INTEGER NOT NULL DEFAULT 0,"
        " n BIGINT NOT NULL,"
        " PRIMARY KEY (day, kind, key, shard)){without_rowid}",
    ],
}
# The admission's state (see store/trust.py), made sure of at every open: these
# tables came with issue 13, outside the versioned schema, so a database of either
# age may or may not have them. ``source_keys`` is UNLOGGED on PostgreSQL: a day's
# key must never reach the WAL (a crash empties the table; the day then gets a new
# key, which only splits that day's cohorts).
ENSURED = (
    "CREATE {unlogged}TABLE IF NOT EXISTS source_keys"
    " (day TEXT PRIMARY KEY, key {blob} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS source_new (day TEXT NOT NULL, source TEXT NOT NULL,"
    " instance TEXT NOT NULL, PRIMARY KEY (day, source, instance))",
)
_ENV_DDL = ",\n    ".join(f"{c} TEXT" for c in _ENV_COLUMNS_V1)


def migrate(
    engine: Engine,
    fold_legacy: Callable[[Cursor, list[Report]], None],
    mark_all_dirty: Callable[[Cursor], None],
) -> None:
    """Create or migrate the schema (under the engine's migration lock, so
    collectors starting together migrate once); refuse a newer database.

    A 0.1.0 SQLite file kept every report as a raw row: its reports are folded in
    through ``fold_legacy`` (the ingest path), the old table dropped and every day
    marked for recomputation.
    """
    with engine.write() as q:
        engine.migration_lock(q)
        version = engine.schema_version(q)
        created = version is None
        if created:
            ddl = _SCHEMA_V1.format(env_columns=_ENV_DDL, **engine.ddl)
            for statement in ddl.split(";"):
                q.run(statement)
            q.run("INSERT INTO schema_version (version) VALUES (?)", (1,))
            version = 1
        while version < SCHEMA_VERSION:
            version += 1
            for statement in MIGRATIONS[version]:
                q.run(statement.format(**engine.ddl))
            q.run("UPDATE schema_version SET version = ?", (version,))
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema {version} is newer than this collector"
                f" ({SCHEMA_VERSION}); upgrade the collector"
            )
        for statement in ENSURED:
            q.run(statement.format(**engine.ddl))
        legacy = engine.legacy_reports(q) if created else None
        if legacy is not None:
            for chunk in legacy:
                fold_legacy(q, chunk)
            engine.drop_legacy(q)
            mark_all_dirty(q)
    # A migrated 0.1.0 file: the dropped raw reports leave the disk now.
    engine.scrub()


# ---- the statements of ingest -------------------------------------------------------


class Upsert(NamedTuple):
    """A multi-row write: ``INSERT INTO table (columns) <rows> <tail>``.

    ``types`` are the PostgreSQL column types, which its engine needs to send a
    whole batch as arrays in one statement (``unnest``). ``key``: how many
    leading columns identify a row (its conflict key); a batch is written sorted
    by them, so concurrent writers lock rows in one order.
    """

    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    tail: str = ""
    key: int = 2

    def order_by(self) -> str:
        """``ORDER BY`` of the rows of a batch selected as this upsert's columns in
        order (by position): its key, so concurrent writers lock rows in one order."""
        key = min(self.key, len(self.columns))
        return "ORDER BY " + ", ".join(str(k + 1) for k in range(key))

    def values_sql(self) -> str:
        return (
            f"INSERT INTO {self.table} ({', '.join(self.columns)})"
            f" VALUES ({', '.join(['?'] * len(self.columns))}) {self.tail}"
        )


def _newest(column: str) -> str:
    # A report dated back (age) fills gaps but never overrides newer data.
    return (
        f"{column} = CASE WHEN excluded.last_seen >= instances.last_seen"
        f" THEN COALESCE(excluded.{column}, instances.{column})"
        f" ELSE COALESCE(instances.{column}, excluded.{column}) END"
    )


UPSERT_INSTANCE = Upsert(
    "instances",
    ("uuid", "first_seen", "last_seen", *ENV_COLUMNS, "last_print", "held", "cohort"),
    ("text", "float8", "float8", *["text"] * len(ENV_COLUMNS), "float8", "text", "text"),
    "ON CONFLICT (uuid) DO UPDATE SET"
    " first_seen = CASE WHEN excluded.first_seen < instances.first_seen"
    " THEN excluded.first_seen ELSE instances.first_seen END,"
    " last_seen = CASE WHEN excluded.last_seen > instances.last_seen"
    " THEN excluded.last_seen ELSE instances.last_seen END, "
    + ", ".join(_newest(c) for c in ENV_COLUMNS)
    + ", last_print = CASE WHEN instances.last_print IS NULL"
    " OR excluded.last_print > instances.last_print"
    " THEN COALESCE(excluded.last_print, instances.last_print)"
    " ELSE instances.last_print END,"
    # Held is sticky until an operator releases the instance; after that, new
    # hold reasons are ignored (the release was a decision about this instance).
    " held = CASE WHEN instances.released = 1 THEN instances.held"
    " ELSE COALESCE(instances.held, excluded.held) END,"
    " cohort = COALESCE(instances.cohort, excluded.cohort)",
    key=1,
)
UPSERT_DAY = Upsert(
    "instance_days",
    ("day", "instance_id", "hours", "version", *PRINT_COLUMNS, "print_seconds"),
    ("int4", "int8", "int4", "text", *["int4"] * len(PRINT_COLUMNS), "int8"),
    "ON CONFLICT (day, instance_id) DO UPDATE SET"
    " hours = instance_days.hours | excluded.hours,"
    " version = COALESCE(excluded.version, instance_days.version), "
    + ", ".join(
        f"{c} = instance_days.{c} + excluded.{c}"
        for c in (*PRINT_COLUMNS, "print_seconds")
    ),
)
UPSERT_PRINT_HOUR = Upsert(
    "print_hours",
    ("day", "instance_id", "hour", "seconds"),
    ("int4", "int8", "int4", "int8"),
    "ON CONFLICT (day, instance_id, hour) DO UPDATE SET"
    " seconds = print_hours.seconds + excluded.seconds",
    key=3,
)
INSERT_EVENT = Upsert(
    "events",
    ("instance_id", "day", "ts", "event", "key", "version", "fields"),
    ("int8", "int4", "float8", "text", "text", "text", "text"),
    # No conflict key: sorted by instance and time, so ids follow the events' order.
    key=3,
)
# Every batch updates a counter and a dirty mark of its day: rows every writer
# would share. Each store (process) writes its own shard of them, so on
# PostgreSQL concurrent writers do not queue behind one row lock held through
# another's commit; readers sum the shards.
SHARDS = 64
UPSERT_COUNT = Upsert(
    "ingest_counts",
    ("day", "event", "shard", "n"),
    ("int4", "text", "int4", "int8"),
    "ON CONFLICT (day, event, shard) DO UPDATE SET n = ingest_counts.n + excluded.n",
    key=3,
)
# DO UPDATE rather than DO NOTHING: it locks the row until this transaction
# commits, so a refresher's claim (DELETE ... RETURNING) waits for the data that
# made the day dirty instead of recomputing without it and losing the mark.
MARK_DIRTY = Upsert(
    "dirty_days",
    ("day", "shard"),
    ("int4", "int4"),
    "ON CONFLICT (day, shard) DO UPDATE SET day = excluded.day",
)
# The admission's new ids per source and day (see store/trust.py).
NOTE_NEW = Upsert(
    "source_new",
    ("day", "source", "instance"),
    ("text", "text", "text"),
    "ON CONFLICT DO NOTHING",
    key=3,
)
SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


class Write(NamedTuple):
    """One table's rows of a batch (see :func:`batch_writes`)."""

    upsert: Upsert
    rows: list[tuple]


def batch_writes(batch: Batch, shared: Sequence[Write]) -> list[Write]:
    """What a batch of reports writes, table by table, in the order every writer
    locks rows (see ``Engine.for_update``): the instances first (keyed by uuid),
    then the rows of each instance (their ``instance_id`` column holds the
    instance's uuid, resolved by the engine), and last the ``shared`` rows, the
    ones every concurrent writer updates (its process's shard of them: dirty
    marks, counters, the ledger). Tables without rows in this batch are left out.
    A new table of the batch is one more entry here, in its place in that order.
    """
    writes = [
        Write(UPSERT_INSTANCE, instance_rows(batch)),
        Write(UPSERT_DAY, day_rows(batch)),
        Write(UPSERT_PRINT_HOUR, print_hour_rows(batch)),
        Write(INSERT_EVENT, batch.events),
        *shared,
    ]
    return [w for w in writes if w.rows]


def instance_rows(batch: Batch) -> list[tuple]:
    return [
        (
            f.uuid,
            f.first_seen,
            f.last_seen,
            *(f.env[c] for c in ENV_COLUMNS),
            f.last_print,
            f.held,
            f.cohort,
        )
        for f in batch.instances
    ]


def day_rows(batch: Batch) -> list[tuple]:
    """Instance-day rows, keyed by the instance's uuid."""
    return sorted(
        (day, uuid, d.hours, d.version, *d.prints, d.seconds)
        for (uuid, day), d in batch.days.items()
    )


def print_hour_rows(batch: Batch) -> list[tuple]:
    """Print-hour rows (only where a print finished), keyed by the instance's uuid."""
    return sorted(
        (day, uuid, hour, seconds)
        for (uuid, day), d in batch.days.items()
        for hour, seconds in d.finished.items()
    )


def counter_rows(batch: Batch, shard: int) -> list[tuple]:
    return sorted((d, e, shard, n) for (d, e), n in batch.counts.items())
