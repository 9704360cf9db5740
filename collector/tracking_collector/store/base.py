"""The Store: schema, migrations, ingest, rollups and reads, shared by both backends.

A backend (SQLite, PostgreSQL) supplies connections and transactions; all SQL here
is written once with ``?`` placeholders in the subset both engines accept
(``INSERT ... ON CONFLICT``, ``RETURNING``, integer ``|``/``&``/``>>``). The storage
model is described in ``model.py`` and the collector README ("Storage").
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from .model import (
    DAY,
    ENV_COLUMNS,
    INSTALL_EVENTS,
    PRINT_COLUMNS,
    RECENT_EVENTS,
    WINDOWS,
    Batch,
    CohortSummary,
    InstanceRecord,
    Report,
    StoredEvent,
    day_of,
    day_rollup,
    fold,
    plugin_entries,
    window_rollup,
)

SCHEMA_VERSION = 2
# Windows move with the clock: rewritten at least this often even with no ingest.
WINDOW_MAX_AGE = 60.0
_IN_CHUNK = 500

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
# Migrations: schema version -> statements that bring schema version - 1 to it.
# ADD COLUMN with a constant default is a metadata change on both engines (no
# table rewrite), so it is quick on big tables.
_MIGRATIONS = {
    2: [
        # print seconds per instance-day; env values for rpi/client exports
        "ALTER TABLE instance_days ADD COLUMN print_seconds BIGINT NOT NULL DEFAULT 0",
        *(
            f"ALTER TABLE instances ADD COLUMN {c} TEXT"
            for c in ENV_COLUMNS
            if c not in _ENV_COLUMNS_V1
        ),
    ],
}
_ENV = ", ".join(ENV_COLUMNS)
_ENV_DDL = ",\n    ".join(f"{c} TEXT" for c in _ENV_COLUMNS_V1)
_ENV_DAY = ", ".join(
    "COALESCE(d.version, i.version)" if c == "version" else "i." + c for c in ENV_COLUMNS
)


def _newest(column: str) -> str:
    # A report dated back (age) fills gaps but never overrides newer data.
    return (
        f"{column} = CASE WHEN excluded.last_seen >= instances.last_seen"
        f" THEN COALESCE(excluded.{column}, instances.{column})"
        f" ELSE COALESCE(instances.{column}, excluded.{column}) END"
    )


class Upsert(NamedTuple):
    """A multi-row write: ``INSERT INTO table (columns) <rows> <tail>``.

    ``types`` are the PostgreSQL column types, which its backend needs to send a
    whole batch as arrays in one statement (``unnest``).
    """

    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    tail: str = ""

    def values_sql(self) -> str:
        return (
            f"INSERT INTO {self.table} ({', '.join(self.columns)})"
            f" VALUES ({', '.join(['?'] * len(self.columns))}) {self.tail}"
        )


_UPSERT_INSTANCE = Upsert(
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
)
_UPSERT_DAY = Upsert(
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
_INSERT_EVENT = Upsert(
    "events",
    ("instance_id", "day", "ts", "event", "key", "version", "fields"),
    ("int8", "int4", "float8", "text", "text", "text", "text"),
)
# Every batch updates a counter and a dirty mark of its day: rows every writer
# would share. Each store (process) writes its own shard of them, so on
# PostgreSQL concurrent writers do not queue behind one row lock held through
# another's commit; readers sum the shards.
SHARDS = 64
_UPSERT_COUNT = Upsert(
    "ingest_counts",
    ("day", "event", "shard", "n"),
    ("int4", "text", "int4", "int8"),
    "ON CONFLICT (day, event, shard) DO UPDATE SET n = ingest_counts.n + excluded.n",
)
# DO UPDATE rather than DO NOTHING: it locks the row until this transaction
# commits, so a refresher's claim (DELETE ... RETURNING) waits for the data that
# made the day dirty instead of recomputing without it and losing the mark.
_MARK_DIRTY = Upsert(
    "dirty_days",
    ("day", "shard"),
    ("int4", "int4"),
    "ON CONFLICT (day, shard) DO UPDATE SET day = excluded.day",
)
_SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
# Public = not held and not ephemeral (issue 13): an instance whose first and last
# reports lie less than ``min_lifetime`` apart and which has been silent for more
# than ``gone_after`` appeared and vanished within minutes, as the fakes of the 2024
# manipulation did; it is kept but enters no public number. Parameters:
# (min_lifetime, now, gone_after), see Store._public_args.
_PUBLIC = (
    "i.held IS NULL AND NOT (i.last_seen - i.first_seen < ? AND ? - i.last_seen > ?)"
)
_PUBLIC_DAY = (
    " FROM instance_days d JOIN instances i ON i.id = d.instance_id"
    " WHERE d.day = ? AND " + _PUBLIC
)
_HOUR_SUMS = (
    "SELECT " + ", ".join(f"SUM((d.hours >> {h}) & 1)" for h in range(24)) + _PUBLIC_DAY
)


def _in(values: Sequence[Any]) -> str:
    return "(" + ", ".join(["?"] * len(values)) + ")"


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


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


def day_rows(batch: Batch, ids: dict[str, int] | None) -> list[tuple]:
    """Instance-day rows, keyed by instance id (or by uuid when ``ids`` is None)."""
    return sorted(
        (
            day,
            ids[uuid] if ids is not None else uuid,
            d.hours,
            d.version,
            *d.prints,
            d.seconds,
        )
        for (uuid, day), d in batch.days.items()
    )


def counter_rows(batch: Batch, shard: int) -> list[tuple]:
    return sorted((d, e, shard, n) for (d, e), n in batch.counts.items())


class Cursor:
    """What the shared SQL needs from a connection inside a transaction."""

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        raise NotImplementedError

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        raise NotImplementedError


class Store:
    """Interface and shared implementation of a report store; thread safe."""

    # Filled by backends for the DDL.
    DDL: dict[str, str] = {}

    # (min_lifetime, gone_after) in seconds: see _PUBLIC. The collector sets them
    # from its configuration.
    lifetime: tuple[float, float] = (1800.0, 3600.0)

    def _public_args(self, now: float) -> tuple[float, float, float]:
        min_lifetime, gone_after = self.lifetime
        return (min_lifetime, now, gone_after)

    # ---- backend hooks -------------------------------------------------------------

    def _tx(self) -> contextlib.AbstractContextManager[Cursor]:
        """A write transaction (committed on exit, rolled back on error)."""
        raise NotImplementedError

    def _read(self) -> contextlib.AbstractContextManager[Cursor]:
        """A read-only transaction (one snapshot)."""
        raise NotImplementedError

    def _migration_lock(self, q: Cursor) -> None:
        """Keep several processes from migrating one database at once."""

    def _legacy_reports(self, q: Cursor) -> Iterator[list[Report]] | None:
        """Chunks of 0.1.0 raw reports to fold in, or None (no legacy table)."""
        return None

    def _drop_legacy(self, q: Cursor) -> None:
        pass

    @contextlib.contextmanager
    def _refresh_lock(self, wait: bool) -> Iterator[bool]:
        """Exclusive right to refresh rollups, across threads (``_refresh_mutex``,
        made by the backend) and processes (``_process_refresh_lock``); yields whether
        it was obtained (``wait=False`` gives up at once if another holder has it).

        Without it, two refreshers could compute one day from different snapshots
        and the older result could be written last.
        """
        if not self._refresh_mutex.acquire(blocking=wait):
            yield False
            return
        try:
            with self._process_refresh_lock(wait) as mine:
                yield mine
        finally:
            self._refresh_mutex.release()

    def _process_refresh_lock(
        self, wait: bool
    ) -> contextlib.AbstractContextManager[bool]:
        """The cross-process part of ``_refresh_lock``, by backend."""
        return contextlib.nullcontext(True)

    def _after_delete(self) -> None:
        """Make deleted data leave the disk now where the engine allows it."""

    def write_lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive right to write, reentrant for the holding thread.

        :class:`BatchWriter` takes it before it drains its queue, so everything
        that arrived while another writer (possibly in another process) held the
        store goes into the next commit. Engines with row locks need none.
        """
        return contextlib.nullcontext()

    def close(self) -> None:
        pass

    # ---- schema ----------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._tx() as q:
            self._migration_lock(q)
            version = self._schema_version(q)
            if version is None:
                for statement in _SCHEMA_V1.format(
                    env_columns=_ENV_DDL, **self.DDL
                ).split(";"):
                    q.run(statement)
                q.run("INSERT INTO schema_version (version) VALUES (?)", (1,))
                created, version = True, 1
            else:
                created = False
            while version < SCHEMA_VERSION:
                version += 1
                for statement in _MIGRATIONS[version]:
                    q.run(statement)
                q.run("UPDATE schema_version SET version = ?", (version,))
            if created:
                legacy = self._legacy_reports(q)
                if legacy is not None:
                    # 0.1.0 kept every report as a raw row: fold them into the new
                    # tables through the same path as live reports, then drop them.
                    for chunk in legacy:
                        self._ingest(q, chunk)
                    self._drop_legacy(q)
                    self._mark_all_dirty(q)
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"database schema {version} is newer than this collector"
                    f" ({SCHEMA_VERSION}); upgrade the collector"
                )

    def _schema_version(self, q: Cursor) -> int | None:
        raise NotImplementedError

    # ---- ingest ----------------------------------------------------------------------

    def add_many(self, reports: Sequence[Report]) -> None:
        """Durably fold ``reports`` into the store (all or nothing)."""
        if reports:
            with self._tx() as q:
                self._ingest(q, reports)

    def _ingest(self, q: Cursor, reports: Sequence[Report]) -> None:
        batch = fold(reports)
        ids = self._write_instances(q, instance_rows(batch))
        self._write(q, _UPSERT_DAY, day_rows(batch, ids))
        if batch.events:
            self._write(q, _INSERT_EVENT, [(ids[e[0]], *e[1:]) for e in batch.events])
        # Last: the dirty marks and counter rows are the ones every concurrent
        # writer updates, so their row locks (PostgreSQL) are held only until the
        # commit right after.
        self._mark_dirty(q, (day for day, _ in batch.counts))
        self._write(q, _UPSERT_COUNT, counter_rows(batch, self._shard))

    @functools.cached_property
    def _shard(self) -> int:
        return random.randrange(SHARDS)  # noqa: S311 - spreads load, no secret

    def _mark_dirty(self, q: Cursor, days: Iterable[int]) -> None:
        self._write(q, _MARK_DIRTY, [(d, self._shard) for d in sorted(set(days))])

    def _write(self, q: Cursor, upsert: Upsert, rows: Sequence[Sequence[Any]]) -> None:
        """Write a batch of rows (an upsert); backends may send it more compactly."""
        q.many(upsert.values_sql(), rows)

    def _write_instances(
        self, q: Cursor, rows: Sequence[Sequence[Any]]
    ) -> dict[str, int]:
        """Upsert instance rows; returns uuid -> id for them."""
        self._write(q, _UPSERT_INSTANCE, rows)
        return self._ids(q, [r[0] for r in rows])

    def _ids(self, q: Cursor, uuids: Sequence[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for chunk in _chunks(uuids):
            sql = f"SELECT uuid, id FROM instances WHERE uuid IN {_in(chunk)}"
            ids.update(q.rows(sql, chunk))
        return ids

    def bulk_insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Load rows straight into a table, one transaction (seeding tools, tests).

        Bypasses the ingest path: the caller keeps the tables consistent and calls
        ``recompute``/``refresh`` when rollups must follow.
        """
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)})"
            f" VALUES ({', '.join(['?'] * len(columns))})"
        )
        with self._tx() as q:
            q.many(sql, rows)  # type: ignore[arg-type] - any iterable streams

    COPIED_TABLES = ("instances", "instance_days", "events", "ingest_counts")

    def copy_to(self, target: Store) -> dict[str, int]:
        """Copy every stored instance, day, event and counter into an empty
        ``target`` (another backend), then recompute its rollups; rows per table."""
        copied = {}
        for table in self.COPIED_TABLES:
            if target.count_rows(table):
                raise ValueError(f"target table {table} is not empty")
        for table in self.COPIED_TABLES:
            with self._read() as q:
                columns = self._columns(q, table)
                rows = q.rows(f"SELECT {', '.join(columns)} FROM {table}")
            target.bulk_insert(table, columns, rows)
            copied[table] = len(rows)
        target._after_copy()
        target.recompute()
        return copied

    def _columns(self, q: Cursor, table: str) -> list[str]:
        raise NotImplementedError

    def _after_copy(self) -> None:
        """Bring id generators past the copied ids."""

    # ---- deletion --------------------------------------------------------------------

    def forget(self, instance: str) -> int:
        """Remove every trace of ``instance``; rows deleted (0 if unknown).

        Its days are marked dirty, so the next refresh recomputes their rollups
        without it.
        """
        with self._tx() as q:
            deleted = self._forget(q, instance)
        if deleted:
            self._after_delete()
        return deleted

    def _forget(self, q: Cursor, instance: str) -> int:
        found = q.rows(
            "SELECT id, first_seen, last_seen FROM instances WHERE uuid = ?", (instance,)
        )
        if not found:
            return 0
        iid, first, last = found[0]
        days = self._instance_days(q, iid, first, last)
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
        self._mark_dirty(q, sorted(set(days) | set(event_days)))
        return 1 + len(days) + events

    def _instance_days(self, q: Cursor, iid: int, first: float, last: float) -> list[int]:
        # Point lookups on the (day, instance_id) key: no second index on the
        # biggest table just for the rare per-instance questions.
        span = list(range(day_of(first), day_of(last) + 1))
        days: list[int] = []
        for chunk in _chunks(span):
            days += [
                d
                for (d,) in q.rows(
                    f"SELECT day FROM instance_days WHERE day IN {_in(chunk)}"
                    " AND instance_id = ?",
                    (*chunk, iid),
                )
            ]
        return sorted(days)

    def purge(self, older_than: float) -> int:
        """Retention by day: drop days before ``older_than``'s day, and instances
        not seen since ``older_than``; returns the number of rows deleted."""
        cutoff = day_of(older_than)
        deleted = 0
        with self._tx() as q:
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
            self._after_delete()
        return deleted

    # ---- rollups ---------------------------------------------------------------------

    def refresh(
        self,
        now: float | None = None,
        force: bool = False,
        budget: float | None = None,
    ) -> bool:
        """Recompute dirty days and the windows; False when nothing was due.

        Several processes may call this: one refreshes at a time (the others
        skip unless ``force``), and it claims the dirty days atomically
        (DELETE ... RETURNING); a day dirtied meanwhile is marked again.

        ``budget`` (the background refresher's): the share of wall time all
        processes together may spend refreshing; after a refresh that took T
        seconds none runs for T * (1 / budget - 1), so a big fleet's rollups lag a
        little more instead of the refresh taking over a CPU.
        """
        now = time.time() if now is None else now
        with self._refresh_lock(wait=force) as mine:
            if not mine:
                return False
            if budget and not force:
                with self._read() as q:
                    after = q.rows("SELECT value FROM meta WHERE key = 'refresh_after'")
                if after and time.time() < after[0][0]:
                    return False
            started = time.time()
            done = self._refresh(now, force)
            if done and budget:
                took = time.time() - started
                with self._tx() as q:
                    q.run(_SET_META, ("refresh_after", started + took / budget))
            return done

    def _refresh(self, now: float, force: bool) -> bool:
        with self._tx() as q:
            dirty = self._claim_dirty(q)
            stamp = q.rows("SELECT value FROM meta WHERE key = 'windows_at'")
            due = (
                force
                or bool(dirty)
                or not stamp
                or not 0 <= now - stamp[0][0] < WINDOW_MAX_AGE
            )
            if due:
                q.run(_SET_META, ("windows_at", now))
        if not due:
            return False
        # The days whose ephemeral instances may still be judged since the last
        # refresh: an instance active on day D is judged by the end of D plus
        # min_lifetime plus gone_after at the latest, so D is recomputed until then.
        settle = sum(self.lifetime) + WINDOW_MAX_AGE
        dirty = sorted(set(dirty) | set(range(day_of(now - settle), day_of(now) + 1)))
        try:
            for day in dirty:
                self._recompute_day(day, now)
            self._rewrite_windows(now)
        except BaseException:
            with self._tx() as q:
                self._mark_dirty(q, dirty)
            raise
        return True

    def recompute(self, days: Iterable[int] | None = None) -> None:
        """Recompute the rollups of ``days`` (None: every day in the store) now."""
        with self._tx() as q:
            if days is None:
                self._mark_all_dirty(q)
            else:
                self._mark_dirty(q, sorted(set(days)))
        self.refresh(force=True)

    def _claim_dirty(self, q: Cursor) -> list[int]:
        """Take every dirty mark (atomically: a writer still holding one makes
        this wait for its commit); returns the days."""
        return sorted({d for (d,) in q.rows("DELETE FROM dirty_days RETURNING day")})

    def _mark_all_dirty(self, q: Cursor) -> None:
        lo, hi = q.rows("SELECT MIN(day), MAX(day) FROM instance_days")[0]
        if lo is not None:
            self._mark_dirty(q, range(lo, hi + 1))

    def _recompute_day(self, day: int, now: float) -> None:
        public = self._public_args(now)
        with self._read() as q:
            # The version run that day, else the latest known.
            rows = q.rows(f"SELECT {_ENV_DAY}" + _PUBLIC_DAY, (day, *public))
            hours = q.rows(_HOUR_SUMS, (day, *public))[0]
            prints = q.rows(
                "SELECT COALESCE(d.version, i.version), COUNT(*), "
                + ", ".join(f"SUM(d.{c})" for c in (*PRINT_COLUMNS, "print_seconds"))
                + _PUBLIC_DAY
                + " AND "
                + " + ".join(f"d.{c}" for c in PRINT_COLUMNS)
                + " > 0 GROUP BY COALESCE(d.version, i.version)",
                (day, *public),
            )
            events = q.rows(
                "SELECT e.event, e.key, COUNT(*) FROM events e"
                " JOIN instances i ON i.id = e.instance_id"
                f" WHERE e.day = ? AND {_PUBLIC} GROUP BY e.event, e.key",
                (day, *public),
            )
            # Install events are few (a plugin install is a rare act), so their
            # versions are read from the stored fields rather than a column.
            installs = q.rows(
                "SELECT e.key, e.fields FROM events e"
                " JOIN instances i ON i.id = e.instance_id"
                f" WHERE e.day = ? AND e.event IN {_in(INSTALL_EVENTS)}"
                f" AND e.key IS NOT NULL AND {_PUBLIC}",
                (day, *INSTALL_EVENTS, *public),
            )
        counter = day_rollup(rows, hours, prints, events, installs)
        with self._tx() as q:
            q.run("DELETE FROM rollups WHERE day = ?", (day,))
            q.many(
                "INSERT INTO rollups (day, metric, key, value) VALUES (?, ?, ?, ?)",
                [(day, m, k, v) for (m, k), v in sorted(counter.items())],
            )

    def _rewrite_windows(self, now: float) -> None:
        with self._read() as q:
            rows = q.rows(
                f"SELECT {_ENV}, last_seen, last_print FROM instances i"
                f" WHERE last_seen >= ? AND {_PUBLIC}",
                (now - max(WINDOWS) * DAY, *self._public_args(now)),
            )
        windows = window_rollup(rows, now)
        with self._tx() as q:
            q.run("DELETE FROM window_rollups")
            q.many(
                "INSERT INTO window_rollups (win, metric, key, value)"
                " VALUES (?, ?, ?, ?)",
                [
                    (w, m, k, v)
                    for w, counter in windows.items()
                    for (m, k), v in sorted(counter.items())
                ],
            )

    # ---- quarantine (issue 13) -------------------------------------------------------

    def _mark_instances_dirty(self, q: Cursor, where: str, args: Sequence[Any]) -> int:
        rows = q.rows(
            f"SELECT id, first_seen, last_seen FROM instances WHERE {where}", args
        )
        days: set[int] = set()
        for iid, first, last in rows:
            days.update(self._instance_days(q, iid, first, last))
        self._mark_dirty(q, sorted(days))
        return len(rows)

    def hold(self, instance: str, reason: str, cohort: str | None = None) -> bool:
        with self._tx() as q:
            found = self._mark_instances_dirty(q, "uuid = ?", (instance,))
            q.run(
                "UPDATE instances SET held = ?, cohort = COALESCE(cohort, ?),"
                " released = 0 WHERE uuid = ?",
                (reason, cohort, instance),
            )
        return bool(found)

    def hold_cohort(self, cohort: str, reason: str) -> int:
        """Hold every public instance of ``cohort`` that no operator released (a
        source over its budget); returns instances held. Their days are recomputed
        at the next refresh."""
        where = "cohort = ? AND held IS NULL AND released = 0"
        with self._tx() as q:
            n = self._mark_instances_dirty(q, where, (cohort,))
            if n:
                q.run(f"UPDATE instances SET held = ? WHERE {where}", (reason, cohort))
        return n

    def release(self, instance: str) -> bool:
        with self._tx() as q:
            found = self._mark_instances_dirty(
                q, "uuid = ? AND held IS NOT NULL", (instance,)
            )
            q.run(
                "UPDATE instances SET held = NULL, released = 1 WHERE uuid = ?",
                (instance,),
            )
        return bool(found)

    @staticmethod
    def _cohort_where(cohort: str | None) -> tuple[str, tuple]:
        if cohort in (None, ""):
            return "cohort IS NULL", ()
        return "cohort = ?", (cohort,)

    def release_cohort(self, cohort: str | None) -> int:
        """Put a held cohort into the public numbers; returns instances released."""
        where, args = self._cohort_where(cohort)
        with self._tx() as q:
            n = self._mark_instances_dirty(q, where + " AND held IS NOT NULL", args)
            q.run(
                f"UPDATE instances SET held = NULL, released = 1"
                f" WHERE {where} AND held IS NOT NULL",
                args,
            )
        self.refresh(force=True)
        return n

    def purge_cohort(self, cohort: str | None) -> int:
        """Forget every instance of a cohort; returns instances removed."""
        where, args = self._cohort_where(cohort)
        with self._tx() as q:
            uuids = [
                u for (u,) in q.rows(f"SELECT uuid FROM instances WHERE {where}", args)
            ]
            for uuid in uuids:
                self._forget(q, uuid)
        if uuids:
            self._after_delete()
        return len(uuids)

    def cohorts(self) -> list[CohortSummary]:
        """Held instances grouped by cohort (NULL cohort as "")."""
        with self._read() as q:
            rows = q.rows(
                "SELECT cohort, held, first_seen, last_seen, plugins FROM instances"
                " WHERE held IS NOT NULL"
            )
        groups: dict[str, CohortSummary] = {}
        for cohort, held, first, last, plugins in rows:
            key = cohort or ""
            g = groups.get(key)
            if g is None:
                g = groups[key] = CohortSummary(key, 0, first, last, {}, {})
            g.instances += 1
            g.first_seen, g.last_seen = min(g.first_seen, first), max(g.last_seen, last)
            g.reasons[held] = g.reasons.get(held, 0) + 1
            for plugin_id, _ in plugin_entries(plugins):
                g.plugins[plugin_id] = g.plugins.get(plugin_id, 0) + 1
        return sorted(groups.values(), key=lambda g: (-g.instances, g.cohort))

    # ---- reads ----

    @functools.cached_property
    def _snapshot(self) -> threading.local:
        return threading.local()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in this block (this thread) share one read transaction: one
        consistent view, and one connection and BEGIN instead of one per read."""
        if getattr(self._snapshot, "q", None) is not None:
            yield
            return
        with self._read() as q:
            self._snapshot.q = q
            try:
                yield
            finally:
                self._snapshot.q = None

    def _reader(self) -> contextlib.AbstractContextManager[Cursor]:
        q = getattr(self._snapshot, "q", None)
        return contextlib.nullcontext(q) if q is not None else self._read()

    def window(
        self, days: int, metrics: Sequence[str] | None = None
    ) -> dict[str, dict[str, int]]:
        """Public instances seen in the last ``days`` (1, 7 or 30) by metric and key."""
        if days not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}")
        sql = "SELECT metric, key, value FROM window_rollups WHERE win = ?"
        args: tuple = (days,)
        if metrics is not None:
            sql += f" AND metric IN {_in(metrics)}"
            args += tuple(metrics)
        result: dict[str, dict[str, int]] = defaultdict(dict)
        with self._reader() as q:
            for metric, key, value in q.rows(sql, args):
                result[metric][key] = int(value)
        return dict(result)

    def daily(
        self, metrics: Sequence[str], since_day: int, until_day: int | None = None
    ) -> dict[str, dict[int, dict[str, int]]]:
        """metric -> day -> key -> value for days in [since_day, until_day]."""
        sql = (
            "SELECT metric, day, key, value FROM rollups WHERE day >= ?"
            f" AND metric IN {_in(metrics)}"
        )
        args: tuple = (since_day, *metrics)
        if until_day is not None:
            sql += " AND day <= ?"
            args += (until_day,)
        result: dict[str, dict[int, dict[str, int]]] = {m: {} for m in metrics}
        with self._reader() as q:
            for metric, day, key, value in q.rows(sql + " ORDER BY day", args):
                result[metric].setdefault(day, {})[key] = int(value)
        return result

    def print_days(self, since_day: int) -> list[tuple]:
        """(day, version, instances, started, done, failed, cancelled) per day and
        version since ``since_day``, from the print rollups, in day order."""
        metrics = ["print_instances", *("print_" + c for c in PRINT_COLUMNS)]
        columns = ", ".join(
            f"SUM(CASE WHEN metric = '{m}' THEN value ELSE 0 END)" for m in metrics
        )
        with self._reader() as q:
            rows = q.rows(
                f"SELECT day, key, {columns} FROM rollups"
                f" WHERE metric IN {_in(metrics)} AND day >= ?"
                " GROUP BY day, key ORDER BY day, key",
                (*metrics, since_day),
            )
        return [(d, k, *(int(v) for v in values)) for d, k, *values in rows]

    def instance(self, uuid: str, events: int = RECENT_EVENTS) -> InstanceRecord | None:
        """What the store holds about one instance (its own data, issue 12)."""
        with self._reader() as q:
            found = q.rows(
                f"SELECT id, first_seen, last_seen, {_ENV}, last_print, held, cohort,"
                " released FROM instances WHERE uuid = ?",
                (uuid,),
            )
            if not found:
                return None
            iid, first, last, *rest = found[0]
            env = dict(zip(ENV_COLUMNS, rest[: len(ENV_COLUMNS)]))
            last_print, held, cohort, released = rest[len(ENV_COLUMNS) :]
            record = InstanceRecord(
                uuid, first, last, env, last_print, held, cohort, bool(released)
            )
            day_list = self._instance_days(q, iid, first, last)
            for chunk in _chunks(day_list):
                record.days += q.rows(
                    "SELECT day, hours, version, "
                    + ", ".join(PRINT_COLUMNS)
                    + f" FROM instance_days WHERE day IN {_in(chunk)}"
                    " AND instance_id = ? ORDER BY day",
                    (*chunk, iid),
                )
            record.events = [
                StoredEvent(ts, event, version, json.loads(fields))
                for ts, event, version, fields in q.rows(
                    "SELECT ts, event, version, fields FROM events"
                    " WHERE instance_id = ? ORDER BY ts DESC, id DESC LIMIT ?",
                    (iid, events),
                )
            ]
        return record

    def ingest_counts(self, since_day: int = 0) -> dict[int, dict[str, int]]:
        """Reports acknowledged per day and event (held instances included)."""
        result: dict[int, dict[str, int]] = defaultdict(dict)
        with self._reader() as q:
            for day, event, n in q.rows(
                "SELECT day, event, SUM(n) FROM ingest_counts WHERE day >= ?"
                " GROUP BY day, event",
                (since_day,),
            ):
                result[day][event] = int(n)
        return dict(result)

    def reports_stored(self) -> int:
        """All reports ever acknowledged within retention (acked == stored checks)."""
        with self._reader() as q:
            return int(q.rows("SELECT COALESCE(SUM(n), 0) FROM ingest_counts")[0][0])

    def refreshed_at(self) -> float | None:
        with self._reader() as q:
            rows = q.rows("SELECT value FROM meta WHERE key = 'windows_at'")
        return rows[0][0] if rows else None

    def uuids(self, held: bool | None = None) -> list[str]:
        """Ids of stored instances (all, only held, or only public), sorted."""
        sql = "SELECT uuid FROM instances"
        if held is not None:
            sql += " WHERE held IS NOT NULL" if held else " WHERE held IS NULL"
        with self._reader() as q:
            return [u for (u,) in q.rows(sql + " ORDER BY uuid")]

    def instance_count(self, held: bool | None = None) -> int:
        sql = "SELECT COUNT(*) FROM instances"
        if held is not None:
            sql += " WHERE held IS NOT NULL" if held else " WHERE held IS NULL"
        with self._reader() as q:
            return int(q.rows(sql)[0][0])

    def count_rows(self, table: str) -> int:
        if table not in (
            "instances",
            "instance_days",
            "events",
            "rollups",
            "window_rollups",
            "ingest_counts",
            "dirty_days",
        ):
            raise ValueError(table)
        with self._reader() as q:
            return int(q.rows(f"SELECT COUNT(*) FROM {table}")[0][0])

    def day_counts(self, day: int) -> Counter:
        """The rollup of one day as a Counter of (metric, key) (tests, tools)."""
        with self._reader() as q:
            rows = q.rows("SELECT metric, key, value FROM rollups WHERE day = ?", (day,))
        return Counter({(m, k): int(v) for m, k, v in rows})
