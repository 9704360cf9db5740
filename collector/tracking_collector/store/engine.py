"""What the store needs from a database engine: transactions, locks, batch writes.

:class:`Engine` is the part of the store that knows which database it runs on;
``sqlite.py`` and ``postgres.py`` implement it. Everything else in ``store/`` (the
domain parts: writes, rollups, reads, quarantine, the admission's tables) talks
SQL through an engine's :meth:`Engine.write` / :meth:`Engine.read` transactions
and its batch statements, never to a connection, and never asks which engine it
has: where the engines differ, the engine offers the operation itself.

Tools and tests that need a raw query (seeding a benchmark, counting rows) use the
same two transactions: ``store.engine.read()``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Report
    from .schema import Upsert, Write

IN_CHUNK = 500
# Rows of parameters of one statement.
Rows = Sequence[Sequence[Any]]


class Cursor:
    """A connection inside one transaction, with the three calls the SQL needs."""

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Execute one statement; the rows it changed."""
        raise NotImplementedError

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute one statement for each row of parameters."""
        raise NotImplementedError

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """Execute one statement and fetch every row of its result."""
        raise NotImplementedError


def placeholders(values: Sequence[Any]) -> str:
    """``(?, ?, ...)`` for an ``IN`` list of ``values``."""
    return "(" + ", ".join(["?"] * len(values)) + ")"


def chunked(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``values`` in slices small enough for one ``IN`` list."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Engine:
    """One database engine under the store; thread safe."""

    ddl: dict[str, str] = {}
    """The words of the schema's DDL that differ by engine (see schema.py)."""

    for_update = ""
    """Appended to a SELECT to lock the rows it picks (engines with row locks).

    Lock order: source_new -> instances -> per-instance rows -> shared rows. A
    transaction that notes new ids of a source (``TrustTables.count_new``, in a
    batch with admission decisions, and ``Writes.complete``) inserts its
    ``source_new`` rows first, sorted; every transaction that writes instance rows
    and other rows then locks its instance rows, in uuid order
    (``Days.lock_instances``; ingest's instance upsert is sorted by uuid), then the
    rows of those instances, and the rows every writer shares (dirty marks,
    counters) last. Two transactions then never wait for each other in a circle.
    """

    def __init__(self) -> None:
        self._refresh_mutex = threading.Lock()

    # ---- transactions and locks -----------------------------------------------------

    def write(self) -> contextlib.AbstractContextManager[Cursor]:
        """A write transaction (committed on exit, rolled back on error)."""
        raise NotImplementedError

    def read(self) -> contextlib.AbstractContextManager[Cursor]:
        """A read-only transaction (one snapshot)."""
        raise NotImplementedError

    def write_lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive right to write, reentrant for the holding thread.

        :class:`~.writer.BatchWriter` takes it before it drains its queue, so
        everything that arrived while another writer (possibly in another process)
        held the store goes into the next commit. Engines with row locks need none.
        """
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def refresh_lock(self, wait: bool) -> Iterator[bool]:
        """Exclusive right to refresh rollups, across threads and processes; yields
        whether it was obtained (``wait=False`` gives up at once if another holder
        has it).

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
        """The cross-process part of :meth:`refresh_lock`."""
        return contextlib.nullcontext(True)

    def transient(self, error: BaseException) -> bool:
        """Whether a failed write may succeed if run again: the engine rolled it
        back whole (a deadlock victim, a serialization failure)."""
        return False

    def unavailable(self, error: BaseException) -> bool:
        """Whether a failed write failed for the database's sake (unreachable,
        locked, full), not for its data: every part of it would fail alike."""
        return isinstance(error, OSError)

    def migration_lock(self, q: Cursor) -> None:
        """Keep several processes from migrating one database at once."""

    def close(self) -> None:
        pass

    # ---- schema ---------------------------------------------------------------------

    def schema_version(self, q: Cursor) -> int | None:
        """The stored schema version; None for a database without one."""
        raise NotImplementedError

    def columns(self, q: Cursor, table: str) -> list[str]:
        """The columns of ``table``, in their order."""
        raise NotImplementedError

    def legacy_reports(self, q: Cursor) -> Iterator[list[Report]] | None:
        """Chunks of 0.1.0 raw reports to fold in, or None (no legacy table)."""
        return None

    def drop_legacy(self, q: Cursor) -> None:
        pass

    # ---- batch statements -----------------------------------------------------------

    def upsert(self, q: Cursor, stmt: Upsert, rows: Rows) -> None:
        """Write a batch of rows. Engines send a batch more compactly than one
        statement per row."""
        q.many(stmt.values_sql(), rows)

    def upsert_instances(
        self, q: Cursor, upsert: Upsert, rows: Sequence[Sequence[Any]]
    ) -> tuple[dict[str, int], set[str]]:
        """Upsert instance rows; uuid -> id for them, and the uuids whose rows
        this created (they did not exist before)."""
        uuids = [r[0] for r in rows]
        existed = self._instance_ids(q, uuids)
        self.upsert(q, upsert, rows)
        ids = self._instance_ids(q, uuids)
        return ids, set(ids) - set(existed)

    @staticmethod
    def _instance_ids(q: Cursor, uuids: Sequence[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for chunk in chunked(uuids):
            sql = f"SELECT uuid, id FROM instances WHERE uuid IN {placeholders(chunk)}"
            ids.update(q.rows(sql, chunk))
        return ids

    def batch(self, reads: bool) -> contextlib.AbstractContextManager[Cursor]:
        """The write transaction of one batch of reports (``Writes.add_many``),
        in as few round trips as the engine can. ``reads``: the block reads rows
        before it writes (the admission's pending decisions); without, it writes
        through ``write_batch`` or ``upsert`` alone, which an engine may run as
        one statement that is its own transaction."""
        return self.write()

    def write_batch(self, q: Cursor, writes: Sequence[Write]) -> set[str]:
        """Write the rows of a batch of reports (``schema.batch_writes``: the
        instances first, then rows keyed by the instance's uuid, then the shared
        rows), table by table; the uuids of the instance rows it created. Engines
        may do it in fewer statements; the rows written are the same."""
        instances, *rest = writes
        ids, created = self.upsert_instances(q, instances.upsert, instances.rows)
        for write in rest:
            rows = write.rows
            if "instance_id" in write.upsert.columns:
                k = write.upsert.columns.index("instance_id")
                rows = [(*r[:k], ids[r[k]], *r[k + 1 :]) for r in rows]
            self.upsert(q, write.upsert, rows)
        return created

    def count_noted(
        self, q: Cursor, limits: Sequence[tuple[tuple[str, Any], int]]
    ) -> dict[tuple[str, Any], int]:
        """The new ids (``source_new``) each (day, source) of ``limits`` created,
        counted up to its limit.

        The policy only asks whether a source is past its budget, so counting
        stops just past it: a burst of n new ids then costs O(budget) per batch,
        not O(n) (O(n²) over the burst). A statement per pair here (SQLite: no
        round trip); engines may count them all in one.
        """
        return {
            (day, source): int(
                q.rows(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM source_new"
                    " WHERE day = ? AND source = ? LIMIT ?) AS noted",
                    (day, source, limit),
                )[0][0]
            )
            for (day, source), limit in limits
        }

    def claim_dirty(self, q: Cursor) -> list[int]:
        """Take every dirty mark (atomically: a writer still holding one makes
        this wait for its commit); returns the days."""
        return sorted({d for (d,) in q.rows("DELETE FROM dirty_days RETURNING day")})

    def bulk_insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Load rows straight into a table, one transaction (copying, seeding).

        Bypasses the ingest path: the caller keeps the tables consistent and
        recomputes rollups when they must follow.
        """
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)})"
            f" VALUES ({', '.join(['?'] * len(columns))})"
        )
        with self.write() as q:
            q.many(sql, rows)  # type: ignore[arg-type] - any iterable streams

    def after_copy(self) -> None:
        """Bring id generators past ids that were copied in."""

    # ---- deletion -------------------------------------------------------------------

    def erase(self, q: Cursor, table: str) -> None:
        """After a DELETE from ``table`` in this transaction: leave no dead copy of
        the deleted rows in the table's own file, where the engine keeps them."""

    def scrub(self) -> None:
        """Make deleted data leave the disk now where the engine allows it (best
        effort: the next scrub catches up)."""
