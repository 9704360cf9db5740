"""Storage for usage reports: the Store interface, SQLite store and batching writer.

The HTTP layer acknowledges a report only after :class:`BatchWriter` has committed
the transaction that contains it, so an acknowledged report survives a crash or
restart of the collector. SQLite runs in WAL mode with ``synchronous=FULL`` so a
commit is on disk when ``commit()`` returns.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

PRINT_EVENTS = ("print_started", "print_done", "print_failed", "print_cancelled")


@dataclass(frozen=True)
class Report:
    """One usage report as stored. Holds no client IP, only its derived location."""

    instance: str
    event: str
    ts: float
    version: str | None = None
    country: str = "unknown"
    city: str = "unknown"
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class InstanceSnapshot:
    """Latest known attributes of one instance (folded over its stored reports)."""

    instance: str
    last_seen: float
    version: str | None = None
    python: str | None = None
    os: str | None = None
    firmware: str | None = None
    plugins: str | None = None
    country: str | None = None


@dataclass
class PrintSummary:
    """Print event counts for one group (a day, a version or both)."""

    day: str | None
    version: str | None
    instances: int
    started: int
    done: int
    failed: int
    cancelled: int


class Store:
    """Interface of a report store. Implementations must be thread safe."""

    def add_many(self, reports: Sequence[Report]) -> None:
        """Durably store ``reports`` (all or nothing)."""
        raise NotImplementedError

    def forget(self, instance: str) -> int:
        """Delete every row of ``instance``; return the number of rows deleted."""
        raise NotImplementedError

    def purge(self, older_than: float) -> int:
        """Delete reports with a timestamp before ``older_than``; return the count."""
        raise NotImplementedError

    def count(self, instance: str | None = None) -> int:
        raise NotImplementedError

    def reports(self, instance: str | None = None) -> list[Report]:
        raise NotImplementedError

    def instance_snapshots(self, since: float) -> list[InstanceSnapshot]:
        """Snapshots of all instances that sent any report at or after ``since``."""
        raise NotImplementedError

    def print_summaries(self, since: float, group_by: str) -> list[PrintSummary]:
        """Print counts since ``since`` grouped by "day", "version" or "day_version"."""
        raise NotImplementedError

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance TEXT NOT NULL,
    event TEXT NOT NULL,
    ts REAL NOT NULL,
    version TEXT,
    country TEXT NOT NULL DEFAULT 'unknown',
    city TEXT NOT NULL DEFAULT 'unknown',
    fields TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS reports_instance ON reports (instance);
CREATE INDEX IF NOT EXISTS reports_ts ON reports (ts);
CREATE INDEX IF NOT EXISTS reports_event_ts ON reports (event, ts);
"""

_GROUPS = {
    "day": ("date(ts, 'unixepoch')", "NULL"),
    "version": ("NULL", "COALESCE(version, 'unknown')"),
    "day_version": ("date(ts, 'unixepoch')", "COALESCE(version, 'unknown')"),
}


class SQLiteStore(Store):
    """SQLite implementation; one connection per thread, WAL journal."""

    def __init__(self, path: str, busy_timeout: float = 30.0):
        self.path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # executescript manages its own transaction; the statements are idempotent.
        self._conn().executescript(_SCHEMA)

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
            # FULL: a commit is fsynced before it returns, so "acknowledged" means
            # "on disk" even on power loss (NORMAL would only survive app crashes).
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Deleted data (forget, purge) is overwritten, not left in free pages.
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """Run a read on a short-lived read-only connection and return all rows.

        Reads come from request threads, which the threaded dev server creates per
        request; thread-local connections would pile up, so readers keep none.
        """
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None
        )
        try:
            conn.execute("PRAGMA query_only=ON")
            return conn.execute(sql, tuple(args)).fetchall()
        finally:
            conn.close()

    class _Tx:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type, exc, tb) -> None:
            if exc_type is None:
                self.conn.execute("COMMIT")
            else:
                self.conn.execute("ROLLBACK")

    def _tx(self) -> SQLiteStore._Tx:
        return SQLiteStore._Tx(self._conn())

    def add_many(self, reports: Sequence[Report]) -> None:
        if not reports:
            return
        rows = [
            (
                r.instance,
                r.event,
                r.ts,
                r.version,
                r.country,
                r.city,
                json.dumps(r.fields, ensure_ascii=False, sort_keys=True),
            )
            for r in reports
        ]
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO reports"
                " (instance, event, ts, version, country, city, fields)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def forget(self, instance: str) -> int:
        with self._tx() as conn:
            deleted = conn.execute(
                "DELETE FROM reports WHERE instance = ?", (instance,)
            ).rowcount
        self._scrub_wal()
        return deleted

    def purge(self, older_than: float) -> int:
        with self._tx() as conn:
            deleted = conn.execute(
                "DELETE FROM reports WHERE ts < ?", (older_than,)
            ).rowcount
        if deleted:
            self._scrub_wal()
        return deleted

    def _scrub_wal(self) -> None:
        # The WAL still holds the page images from before the delete; fold it into
        # the (secure-deleted) main file and truncate it, so deleted data leaves the
        # disk now rather than at some later automatic checkpoint. Best effort: an
        # active reader can block it, and the next scrub or checkpoint catches up.
        try:
            self.checkpoint()
        except sqlite3.Error:
            pass

    def count(self, instance: str | None = None) -> int:
        if instance is None:
            return self._query("SELECT COUNT(*) FROM reports")[0][0]
        return self._query(
            "SELECT COUNT(*) FROM reports WHERE instance = ?", (instance,)
        )[0][0]

    def reports(self, instance: str | None = None) -> list[Report]:
        sql = "SELECT instance, event, ts, version, country, city, fields FROM reports"
        args: tuple[Any, ...] = ()
        if instance is not None:
            sql += " WHERE instance = ?"
            args = (instance,)
        sql += " ORDER BY id"
        return [
            Report(i, e, ts, v, c, city, json.loads(f))
            for i, e, ts, v, c, city, f in self._query(sql, args)
        ]

    def instance_snapshots(self, since: float) -> list[InstanceSnapshot]:
        sql = """
            SELECT instance, ts, version, country,
                   json_extract(fields, '$.python'), json_extract(fields, '$.os'),
                   json_extract(fields, '$.firmware_name'),
                   json_extract(fields, '$.plugins'), event
            FROM reports
            WHERE instance IN (SELECT DISTINCT instance FROM reports WHERE ts >= ?)
            ORDER BY ts, id
        """
        snaps: dict[str, InstanceSnapshot] = {}
        for (
            inst,
            ts,
            version,
            country,
            py,
            os_,
            fw,
            plugins,
            event,
        ) in self._query(sql, (since,)):
            snap = snaps.get(inst)
            if snap is None:
                snap = snaps[inst] = InstanceSnapshot(inst, ts)
            snap.last_seen = max(snap.last_seen, ts)
            # Later reports override earlier ones; missing values keep older data.
            if version:
                snap.version = version
            if country and country != "unknown":
                snap.country = country
            if py:
                snap.python = str(py)
            if os_:
                snap.os = str(os_)
            if fw:
                snap.firmware = str(fw)
            if event == "pong":
                # pong always carries the full plugin list; an empty one is meaningful.
                snap.plugins = str(plugins) if plugins is not None else ""
        return list(snaps.values())

    def print_summaries(self, since: float, group_by: str) -> list[PrintSummary]:
        day_expr, version_expr = _GROUPS[group_by]
        sql = f"""
            SELECT {day_expr} AS d, {version_expr} AS v,
                   COUNT(DISTINCT instance),
                   SUM(event = 'print_started'), SUM(event = 'print_done'),
                   SUM(event = 'print_failed'), SUM(event = 'print_cancelled')
            FROM reports
            WHERE ts >= ? AND event IN ({",".join("?" * len(PRINT_EVENTS))})
            GROUP BY d, v ORDER BY d, v
        """
        return [PrintSummary(*row) for row in self._query(sql, (since, *PRINT_EVENTS))]

    def checkpoint(self) -> None:
        """Fold the WAL into the main file (used by tests and on close)."""
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            conns, self._connections = self._connections, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()


@dataclass
class _Op:
    kind: str  # "add", "forget", "purge"
    arg: Any
    future: Future = field(default_factory=Future)


class WriterClosed(RuntimeError):
    pass


class BatchWriter:
    """Single writer thread that commits queued operations in batches.

    Each submit returns a Future resolved only after the transaction holding the
    operation committed, so callers can acknowledge exactly what is durable.
    Operations are applied in submission order (a forget after a report wins).
    """

    def __init__(self, store: Store, max_batch: int = 500, max_wait: float = 0.005):
        self.store = store
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: queue.Queue[_Op | None] = queue.Queue()
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name="tracking-collector-writer", daemon=True
        )
        self._thread.start()

    def _submit(self, kind: str, arg: Any) -> Future:
        op = _Op(kind, arg)
        with self._close_lock:
            if self._closed:
                raise WriterClosed("writer is closed")
            self._queue.put(op)
        return op.future

    def add(self, report: Report) -> Future:
        return self._submit("add", report)

    def forget(self, instance: str) -> Future:
        return self._submit("forget", instance)

    def purge(self, older_than: float) -> Future:
        return self._submit("purge", older_than)

    def _collect(self, first: _Op) -> tuple[list[_Op], bool]:
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        stop = False
        while len(batch) < self.max_batch:
            timeout = deadline - time.monotonic()
            try:
                op = (
                    self._queue.get(timeout=timeout)
                    if timeout > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if op is None:
                stop = True
                break
            batch.append(op)
        return batch, stop

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch, stop = self._collect(first)
            self._apply(batch)

    @staticmethod
    def _groups(batch: list[_Op]) -> Iterator[list[_Op]]:
        current: list[_Op] = []
        for op in batch:
            if op.kind == "add":
                current.append(op)
                continue
            if current:
                yield current
                current = []
            yield [op]
        if current:
            yield current

    def _apply(self, batch: list[_Op]) -> None:
        for group in self._groups(batch):
            try:
                if group[0].kind == "add":
                    self.store.add_many([op.arg for op in group])
                    results: Iterable[Any] = [True] * len(group)
                elif group[0].kind == "forget":
                    results = [self.store.forget(group[0].arg)]
                else:
                    results = [self.store.purge(group[0].arg)]
            except Exception as exc:  # noqa: BLE001 - reported to every waiter
                for op in group:
                    op.future.set_exception(exc)
                continue
            for op, result in zip(group, results):
                op.future.set_result(result)

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting work, finish everything queued, stop the thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)
