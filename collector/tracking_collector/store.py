"""Storage for usage reports: the Store interface, SQLite store and batching writer.

The HTTP layer acknowledges a report only after :class:`BatchWriter` has committed
the transaction that contains it, so an acknowledged report survives a crash or
restart of the collector. SQLite runs in WAL mode with ``synchronous=NORMAL`` by
default: a commit is in the WAL file when ``COMMIT`` returns, which survives a crash
or kill -9 of the collector; ``synchronous=FULL`` also fsyncs it, for power loss.
The writer commits as soon as its queue is drained, so under load the reports that
arrive during one commit form the next one (group commit).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

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

    def write_lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive right to write, reentrant for the holding thread.

        :class:`BatchWriter` takes it before it drains its queue, so everything
        that arrived while another writer (possibly in another process) held the
        store goes into the next commit.
        """
        return contextlib.nullcontext()

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

_COLUMNS = 7
# 128 rows x 7 columns stays below SQLite's historic limit of 999 parameters.
_ROWS_PER_INSERT = 128


@functools.lru_cache(maxsize=_ROWS_PER_INSERT)
def _insert_sql(rows: int) -> str:
    return (
        "INSERT INTO reports (instance, event, ts, version, country, city, fields)"
        " VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    )


_GROUPS = {
    "day": ("date(ts, 'unixepoch')", "NULL"),
    "version": ("NULL", "COALESCE(version, 'unknown')"),
    "day_version": ("date(ts, 'unixepoch')", "COALESCE(version, 'unknown')"),
}


class SQLiteStore(Store):
    """SQLite implementation; one connection per thread, WAL journal."""

    def __init__(
        self, path: str, busy_timeout: float = 30.0, synchronous: str = "NORMAL"
    ):
        self.path = path
        self._busy_timeout = busy_timeout
        synchronous = str(synchronous).upper()
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("synchronous must be FULL, NORMAL or EXTRA")
        self._synchronous = synchronous
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Writers (in this process: the BatchWriter thread, checkpoints) are
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
        # executescript manages its own transaction; the statements are idempotent.
        with self._write_lock():
            self._conn().executescript(_SCHEMA)

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

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE) under the cross-process write lock."""
        conn = self._conn()
        with self._write_lock():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def add_many(self, reports: Sequence[Report]) -> None:
        if not reports:
            return
        params: list[Any] = []
        for r in reports:
            params += (
                r.instance,
                r.event,
                r.ts,
                r.version,
                r.country,
                r.city,
                json.dumps(r.fields, ensure_ascii=False, sort_keys=True),
            )
        statements = []
        for start in range(0, len(reports), _ROWS_PER_INSERT):
            n = min(_ROWS_PER_INSERT, len(reports) - start)
            chunk = params[start * _COLUMNS : (start + n) * _COLUMNS]
            statements.append((_insert_sql(n), chunk))
        with self._tx() as conn:
            # One multi-row INSERT per chunk rather than executemany: every
            # statement step releases and re-takes the GIL, and under load each
            # re-take can wait for a request thread's switch interval. Fewer steps
            # keep the commit (and the cross-process write lock) short.
            for sql, args in statements:
                conn.execute(sql, args)

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
        conn = self._conn()
        with self._write_lock():
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            conns, self._connections = self._connections, []
            fd, self._lock_fd = self._lock_fd, None
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
        if fd is not None:
            with self._write_mutex:
                os.close(fd)


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

    def __init__(self, store: Store, max_batch: int = 500, max_wait: float = 0.0):
        self.store = store
        self.max_batch = max_batch
        # 0 (default): group commit. The writer takes whatever is queued, commits it
        # at once and repeats; operations that arrive while a commit runs form the
        # next batch, so batches grow with the load and an idle collector answers a
        # lone report after one commit. A positive value additionally lingers that
        # long for more operations before each commit.
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

    def _collect(self, batch: list[_Op], linger: bool) -> bool:
        """Add queued operations to ``batch``; True when the stop marker came."""
        get_nowait = self._queue.get_nowait
        deadline = None
        if linger and self.max_wait > 0:
            deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                op = get_nowait()
            except queue.Empty:
                if deadline is None:
                    break  # drained: commit now
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                try:
                    op = self._queue.get(timeout=timeout)
                except queue.Empty:
                    break
            if op is None:
                return True
            batch.append(op)
        return False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            stop = self._collect(batch, linger=True)
            with self.store.write_lock():
                # Whatever queued up while waiting for the lock joins this commit.
                if not stop:
                    stop = self._collect(batch, linger=False)
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
