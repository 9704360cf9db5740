"""SQLite engine: the embedded default, one file, WAL journal, cross-process flock.

A commit is in the WAL file when ``COMMIT`` returns (``synchronous=NORMAL``, the
default), which survives a crash or kill -9 of the collector; ``synchronous=FULL``
also fsyncs it, for power loss. Several processes (gunicorn workers, the ``purge``
command) share the file; their writers are serialised by an flock (see
``_write_lock``), so each commits everything that queued while another wrote.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from .engine import Cursor, Engine, Rows
from .facade import Store
from .model import Report
from .rollups import Lifetime
from .schema import Upsert

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

_LEGACY_CHUNK = 5000


class _SQLiteCursor(Cursor):
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, tuple(args)).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.conn.executemany(sql, rows)

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        return self.conn.execute(sql, tuple(args)).fetchall()


# SQLite binds at most 32766 parameters per statement (999 before 3.32).
_MAX_PARAMS = 32000 if sqlite3.sqlite_version_info >= (3, 32) else 990
# RETURNING needs SQLite 3.35 (Debian 11 ships 3.34): ids are selected instead.
HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35)


@functools.lru_cache(maxsize=256)
def _multi_row_sql(upsert: Upsert, rows: int, returning: str = "") -> str:
    row = "(" + ", ".join(["?"] * len(upsert.columns)) + ")"
    return (
        f"INSERT INTO {upsert.table} ({', '.join(upsert.columns)})"
        f" VALUES {', '.join([row] * rows)} {upsert.tail}{returning}"
    )


class SQLiteEngine(Engine):
    """SQLite; one writing connection per thread, WAL journal."""

    ddl = {
        "pk": "INTEGER PRIMARY KEY",
        "ref": "INTEGER",
        "real": "REAL",
        "without_rowid": " WITHOUT ROWID",
        "fill": "",
        "blob": "BLOB",
        "unlogged": "",
    }

    def __init__(
        self, path: str, busy_timeout: float = 30.0, synchronous: str = "NORMAL"
    ):
        super().__init__()
        self.path = path
        self._busy_timeout = busy_timeout
        synchronous = str(synchronous).upper()
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("synchronous must be FULL, NORMAL or EXTRA")
        self._synchronous = synchronous
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Writers (in this process: the BatchWriter thread, the refresher) are
        # serialised by a thread lock plus, across processes (several gunicorn
        # workers, ``tracking-collector purge``), an flock on a side file. SQLite's
        # own busy handler polls with growing sleeps, so a worker waiting for
        # another one's commit would lose milliseconds each time; a blocked flock
        # wakes as soon as the lock is released, and the waiter's queue has grown
        # into a bigger batch meanwhile. SQLite's locking stays the safety net.
        self._write_mutex = threading.RLock()
        self._write_depth = 0
        self._lock_fd: int | None = None
        if fcntl is not None and path != ":memory:" and not path.startswith("file:"):
            self._lock_fd = os.open(path + "-writelock", os.O_RDWR | os.O_CREAT, 0o600)
        self._refresh_fd: int | None = None
        if self._lock_fd is not None:
            self._refresh_fd = os.open(
                path + "-refreshlock", os.O_RDWR | os.O_CREAT, 0o600
            )

    @contextlib.contextmanager
    def _process_refresh_lock(self, wait: bool) -> Iterator[bool]:
        fd = self._refresh_fd
        if fd is None:
            yield True
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        with self._write_mutex:
            fd = self._lock_fd
            if fd is None or self._write_depth:
                self._write_depth += 1
                try:
                    yield
                finally:
                    self._write_depth -= 1
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._write_depth = 1
            try:
                yield
            finally:
                self._write_depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)

    def write_lock(self) -> contextlib.AbstractContextManager[None]:
        return self._write_lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL (default): in WAL mode a commit is in the WAL file (the OS's
            # page cache) when it returns, so it survives a crash or kill -9 of the
            # collector; the WAL is fsynced at checkpoints, so the last commits may
            # roll back on a power cut or OS crash. FULL fsyncs every commit.
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            # Deleted data (forget, purge) is overwritten, not left in free pages.
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Cursor]:
        """A write transaction (BEGIN IMMEDIATE) under the cross-process write lock."""
        conn = self._conn()
        with self._write_lock():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteCursor(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def read(self) -> Iterator[Cursor]:
        """A read snapshot on a short-lived read-only connection.

        Reads come from request threads, which the threaded dev server creates per
        request; thread-local connections would pile up, so readers keep none.
        """
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None
        )
        try:
            conn.execute("PRAGMA query_only=ON")
            conn.execute("BEGIN")
            yield _SQLiteCursor(conn)
        finally:
            conn.close()

    def _chunks(self, upsert: Upsert, rows: Sequence[Sequence[Any]]):
        size = max(1, min(500, _MAX_PARAMS // len(upsert.columns)))
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            yield chunk, [value for row in chunk for value in row]

    def upsert(self, q: Cursor, stmt: Upsert, rows: Rows) -> None:
        # One multi-row statement per chunk rather than executemany: every
        # statement step releases and re-takes the GIL, and under load each re-take
        # can wait for a request thread's switch interval. Fewer steps keep the
        # commit (and the cross-process write lock) short.
        for chunk, params in self._chunks(stmt, rows):
            q.run(_multi_row_sql(stmt, len(chunk)), params)

    def upsert_instances(
        self, q: Cursor, upsert: Upsert, rows: Sequence[Sequence[Any]]
    ) -> tuple[dict[str, int], set[str]]:
        if not HAS_RETURNING:
            return super().upsert_instances(q, upsert, rows)
        # A new row's id is one more than the largest before it (no AUTOINCREMENT,
        # ids far from the top), and this transaction is the only writer: the
        # rows it created are those with an id past the largest one before. (One
        # lookup of the index's last entry, not one per row.)
        last = q.rows("SELECT COALESCE(MAX(id), 0) FROM instances")[0][0]
        ids: dict[str, int] = {}
        for chunk, params in self._chunks(upsert, rows):
            sql = _multi_row_sql(upsert, len(chunk), " RETURNING uuid, id")
            ids.update(q.rows(sql, params))
        return ids, {uuid for uuid, iid in ids.items() if iid > last}

    def unavailable(self, error: BaseException) -> bool:
        # OperationalError: locked past the busy timeout, disk full, I/O error.
        return isinstance(error, (sqlite3.OperationalError, OSError))

    def claim_dirty(self, q: Cursor) -> list[int]:
        # Inside BEGIN IMMEDIATE no other writer runs, so read-then-delete is
        # atomic (and works before SQLite 3.35, which brought RETURNING).
        days = sorted({d for (d,) in q.rows("SELECT day FROM dirty_days")})
        q.run("DELETE FROM dirty_days")
        return days

    def schema_version(self, q: Cursor) -> int | None:
        if not q.rows(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ):
            return None
        rows = q.rows("SELECT MAX(version) FROM schema_version")
        return rows[0][0] if rows and rows[0][0] is not None else None

    def columns(self, q: Cursor, table: str) -> list[str]:
        return [row[1] for row in q.rows(f"PRAGMA table_info({table})")]

    def legacy_reports(self, q: Cursor) -> Iterator[list[Report]] | None:
        if not q.rows(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'reports'"
        ):
            return None

        def chunks() -> Iterator[list[Report]]:
            last = -1
            while True:
                rows = q.rows(
                    "SELECT id, instance, event, ts, version, country, city, fields"
                    " FROM reports WHERE id > ? ORDER BY id LIMIT ?",
                    (last, _LEGACY_CHUNK),
                )
                if not rows:
                    return
                last = rows[-1][0]
                yield [
                    Report(i, e, ts, v, c or "unknown", city or "unknown", json.loads(f))
                    for _, i, e, ts, v, c, city, f in rows
                ]

        return chunks()

    def drop_legacy(self, q: Cursor) -> None:
        q.run("DROP TABLE reports")

    def scrub(self) -> None:
        # The WAL still holds the page images from before the delete; fold it into
        # the (secure-deleted) main file and truncate it, so deleted data leaves the
        # disk now rather than at some later automatic checkpoint. Best effort: an
        # active reader can block it, and the next scrub or checkpoint catches up.
        try:
            with self._write_lock():
                self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass

    def close(self) -> None:
        with self._lock:
            conns, self._connections = self._connections, []
            fd, self._lock_fd = self._lock_fd, None
        with self._refresh_mutex:
            refresh_fd, self._refresh_fd = self._refresh_fd, None
        if refresh_fd is not None:
            os.close(refresh_fd)
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
        if fd is not None:
            with self._write_mutex:
                os.close(fd)


class SQLiteStore(Store):
    """The store in a SQLite file (``path``). ``options`` are :class:`SQLiteEngine`'s
    (busy timeout, synchronous)."""

    def __init__(self, path: str, lifetime: Lifetime | None = None, **options: Any):
        self.path = path
        super().__init__(SQLiteEngine(path, **options), lifetime)
