"""PostgreSQL engine (``--db postgresql://...``): psycopg 3 with a connection pool.

Several collector processes, on one machine or several, share one database. Row
locks replace SQLite's single-writer flock: each process's BatchWriter commits its
own batches. Every transaction locks rows in one order (``Engine.for_update``:
instance rows first, in uuid order, the shared rows last), so concurrent
transactions do not deadlock; a write PostgreSQL still rolls back as a deadlock
victim is run again by the writer (``transient``). Schema migrations take an
advisory lock, so collectors starting together migrate once.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .engine import Cursor, Engine, Rows
from .facade import Store
from .rollups import Lifetime
from .schema import Upsert, Write

_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE (psycopg is imported when used)
# Arbitrary constants identifying this application's advisory locks.
_MIGRATION_LOCK = 0x7EAC_0010
_REFRESH_LOCK = 0x7EAC_0011
DEFAULT_POOL_SIZE = 10


def is_postgres_url(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


class _PgCursor(Cursor):
    def __init__(self, conn):
        self.conn = conn

    @staticmethod
    def _sql(sql: str) -> str:
        # The shared SQL uses "?" placeholders and no literal "?"; a literal "%"
        # (the modulo operator) is escaped for psycopg. Parameters go in binary
        # (%b): batches are arrays, and text arrays cost a regex per element.
        return sql.replace("%", "%%").replace("?", "%b")

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self.conn.execute(self._sql(sql), tuple(args)).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        return self.conn.execute(self._sql(sql), tuple(args)).fetchall()


class _OneStatement(_PgCursor):
    """An autocommit connection that runs one statement: its own transaction. A
    second one would not be atomic with the first, so it is refused."""

    def __init__(self, conn):
        super().__init__(conn)
        self._spent = False

    def _spend(self) -> None:
        if self._spent:
            raise RuntimeError("one statement only: use a transaction for more")
        self._spent = True

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        self._spend()
        return super().run(sql, args)

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        self._spend()
        return super().rows(sql, args)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise RuntimeError("one statement only: use a transaction for more")


@functools.lru_cache(maxsize=32)  # one per shape of batch (which tables it writes)
def batch_sql(upserts: tuple[Upsert, ...]) -> str:
    """A whole batch of reports as ONE statement: a data-modifying CTE per table
    of ``schema.batch_writes``, each given its rows as one jsonb array of arrays.

    PostgreSQL runs data-modifying CTEs in no promised order unless one reads
    another, so each reads the one before: the rows of an instance join the ids
    the instances' step returns (not the table: every step sees the statement's
    one snapshot, without the rows the others write), and every later step starts
    only once the step before it is done (its count in a one-time filter). Rows
    are then locked as every writer locks them (``Engine.for_update``): the
    instances in uuid order first, the shared rows last.

    Its one row: the last step's count, and the uuids of the instance rows it
    created (``xmax = 0``: a row the upsert inserted, not one it updated, which
    it locked).
    """
    steps = []
    for k, upsert in enumerate(upserts):
        columns = [
            "i.id" if k and c == "instance_id" else f"(r->>{j})::{t}"
            for j, (c, t) in enumerate(zip(upsert.columns, upsert.types))
        ]
        source = f"SELECT {', '.join(columns)} FROM jsonb_array_elements(?::jsonb) r"
        if k and "instance_id" in upsert.columns:
            ref = upsert.columns.index("instance_id")
            source += f" JOIN w0 i ON i.uuid = r->>{ref}"
        if k:
            source += f" WHERE (SELECT count(*) FROM w{k - 1}) >= 0"
        returning = "id, uuid, xmax = 0 AS created" if k == 0 else "1"
        steps.append(
            f"w{k} AS (INSERT INTO {upsert.table} ({', '.join(upsert.columns)})"
            f" {source} {upsert.order_by()} {upsert.tail} RETURNING {returning})"
        )
    return (
        f"WITH {', '.join(steps)} SELECT (SELECT count(*) FROM w{len(upserts) - 1}),"
        " ARRAY(SELECT uuid FROM w0 WHERE created)"
    )


class PostgresEngine(Engine):
    """PostgreSQL on a psycopg_pool.ConnectionPool."""

    for_update = " FOR UPDATE"

    ddl = {
        "pk": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "ref": "BIGINT",
        "real": "DOUBLE PRECISION",
        "without_rowid": "",
        # Every report updates its instance row and instance-day row: free space
        # on each page lets PostgreSQL update them in place (HOT) and prune old
        # versions without waiting for vacuum. (No index on a column that
        # changes with each report, for the same reason.)
        "fill": " WITH (fillfactor = 70)",
        "blob": "BYTEA",
        "unlogged": "UNLOGGED ",
    }

    def __init__(
        self,
        url: str,
        pool_size: int = DEFAULT_POOL_SIZE,
        timeout: float = 30.0,
        synchronous: str = "NORMAL",
    ):
        super().__init__()
        try:
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "PostgreSQL needs psycopg: pip install 'octoprint-usage-collector"
                "[postgresql]'"
            ) from exc
        self.url = url
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            timeout=timeout,
            open=True,
            name="tracking-collector",
            # Autocommit: every transaction of the store is explicit (write(),
            # read(), batch()), and a batch can then send its BEGIN and COMMIT
            # together with its statement.
            kwargs={"autocommit": True, **self._session_options(synchronous)},
        )
        try:
            self._pool.wait(timeout)
        except BaseException:
            self._pool.close()
            raise

    @staticmethod
    def _session_options(synchronous: str) -> dict[str, str]:
        """The collector's ``synchronous`` setting in PostgreSQL's terms.

        NORMAL (default), as on SQLite: a commit survives a crash of the collector
        (it is in the server) but the last ~0.6 s of commits can be lost if the
        database server or machine crashes (``synchronous_commit=off``: the WAL is
        flushed in the background; no corruption). FULL: the server's setting
        (normally ``on``: flushed before the commit returns).
        """
        synchronous = str(synchronous).upper()
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be NORMAL or FULL")
        if synchronous == "NORMAL":
            return {"options": "-c synchronous_commit=off"}
        return {}

    @contextlib.contextmanager
    def write(self) -> Iterator[Cursor]:
        # The pool commits when the block ends normally and rolls back on error.
        with self._pool.connection() as conn:
            with conn.transaction():
                yield _PgCursor(conn)

    @contextlib.contextmanager
    def read(self) -> Iterator[Cursor]:
        """One snapshot for every statement of the block (REPEATABLE READ; READ
        COMMITTED would take one per statement while writers commit, and sums
        read by different statements of one rollup would disagree). READ ONLY:
        the block cannot write by mistake. BEGIN and COMMIT go as statements, as
        in batch(): no round trip of their own to set the level first."""
        with self._pool.connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            try:
                yield _PgCursor(conn)
            finally:
                # Nothing to keep: a read ends the same way however it ends.
                if conn.info.transaction_status != _IDLE:
                    conn.execute("ROLLBACK")

    @staticmethod
    @functools.lru_cache(maxsize=32)  # a handful of statements, built once each
    def _unnest_sql(upsert: Upsert) -> str:
        """One statement for a batch of rows: they travel as one array per column."""
        n = len(upsert.types)
        names = ", ".join(f"c{k}" for k in range(n))
        arrays = ", ".join(f"?::{t}[]" for t in upsert.types)
        return (
            f"INSERT INTO {upsert.table} ({', '.join(upsert.columns)})"
            f" SELECT * FROM unnest({arrays}) AS t({names})"
            f" {upsert.order_by()} {upsert.tail}"
        )

    def upsert(self, q: Cursor, stmt: Upsert, rows: Rows) -> None:
        if rows:
            q.run(self._unnest_sql(stmt), [list(c) for c in zip(*rows)])

    @contextlib.contextmanager
    def batch(self, reads: bool) -> Iterator[Cursor]:
        with self._pool.connection() as conn:
            if not reads:
                # One statement (write_batch), its own transaction: autocommit,
                # one round trip, no BEGIN and COMMIT at all.
                yield _OneStatement(conn)
                return
            # Reads first (the admission's): pipeline mode, so BEGIN travels with
            # the first read, and the batch's statement with COMMIT. They are
            # sent as statements: psycopg's transaction() would wait for each.
            try:
                with conn.pipeline():
                    conn.execute("BEGIN")
                    yield _PgCursor(conn)
                    conn.execute("COMMIT")
            except BaseException:
                # A failed statement skips the rest of the pipeline, COMMIT too.
                if conn.info.transaction_status != _IDLE:
                    conn.execute("ROLLBACK")
                raise

    def count_noted(
        self, q: Cursor, limits: Sequence[tuple[tuple[str, Any], int]]
    ) -> dict[tuple[str, Any], int]:
        # Every pair in one statement (each statement is a round trip of the
        # batch's pipeline): the pairs as arrays, each counted up to its limit.
        if not limits:
            return {}
        days, sources, caps = zip(*((d, s, n) for (d, s), n in limits))
        found = q.rows(
            "SELECT v.day, v.source, (SELECT count(*) FROM (SELECT 1 FROM source_new s"
            " WHERE s.day = v.day AND s.source = v.source LIMIT v.cap) AS noted)"
            " FROM unnest(?::text[], ?::text[], ?::bigint[]) AS v(day, source, cap)",
            [list(days), list(sources), list(caps)],
        )
        return {(day, source): int(n) for day, source, n in found}

    def write_batch(self, q: Cursor, writes: Sequence[Write]) -> set[str]:
        # One statement for the whole batch (see batch_sql): the server parses,
        # plans and runs one statement, the client sends one parameter per table.
        ((_, created),) = q.rows(
            batch_sql(tuple(w.upsert for w in writes)),
            [json.dumps(w.rows, ensure_ascii=False) for w in writes],
        )
        return set(created)

    def bulk_insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        # COPY: an order of magnitude faster than INSERTs for millions of rows.
        with self._pool.connection() as conn, conn.transaction():
            with conn.cursor() as cur:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

    @contextlib.contextmanager
    def _process_refresh_lock(self, wait: bool) -> Iterator[bool]:
        # A session-level advisory lock on a connection of its own (not the
        # pool's, which the refresh itself needs, whatever the pool size).
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            take = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
            row = conn.execute(f"SELECT {take}(%s)", (_REFRESH_LOCK,)).fetchone()
            if not wait and not row[0]:
                yield False
                return
            try:
                yield True
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_REFRESH_LOCK,))

    def columns(self, q: Cursor, table: str) -> list[str]:
        return [
            name
            for (name,) in q.rows(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ?"
                " ORDER BY ordinal_position",
                (table,),
            )
        ]

    def after_copy(self) -> None:
        with self.write() as q:
            for table in ("instances", "events"):
                q.rows(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )

    def migration_lock(self, q: Cursor) -> None:
        q.rows("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def unavailable(self, error: BaseException) -> bool:
        import psycopg

        # OperationalError: connection lost, pool timeout, disk full, shutdown.
        return isinstance(
            error, (psycopg.OperationalError, psycopg.InterfaceError, OSError)
        )

    def transient(self, error: BaseException) -> bool:
        import psycopg.errors

        return isinstance(
            error, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
        )

    def schema_version(self, q: Cursor) -> int | None:
        if not q.rows("SELECT to_regclass('schema_version')")[0][0]:
            return None
        rows = q.rows("SELECT MAX(version) FROM schema_version")
        return rows[0][0] if rows and rows[0][0] is not None else None

    def erase(self, q: Cursor, table: str) -> None:
        # A deleted tuple stays in the table's file until VACUUM reuses the space;
        # TRUNCATE swaps in an empty file at once (and is transactional, unlike
        # VACUUM FULL). The rows still wanted are written back.
        keep = q.rows(f"SELECT * FROM {table}")
        columns = self.columns(q, table)
        q.run(f"TRUNCATE {table}")
        q.many(
            f"INSERT INTO {table} ({', '.join(columns)})"
            f" VALUES ({', '.join(['?'] * len(columns))})",
            keep,
        )

    def close(self) -> None:
        self._pool.close()


class PostgresStore(Store):
    """The store in a PostgreSQL database (``url``); several collectors share it.
    ``options`` are :class:`PostgresEngine`'s (pool size, timeout, synchronous)."""

    def __init__(self, url: str, lifetime: Lifetime | None = None, **options: Any):
        self.url = url
        engine = PostgresEngine(url, **options)
        try:
            super().__init__(engine, lifetime)
        except BaseException:
            engine.close()
            raise
