"""The batching writer: one thread commits queued reports in group commits.

The HTTP layer acknowledges a report only after :class:`BatchWriter` has committed
the transaction that contains it, so an acknowledged report survives a crash or
restart of the collector. The writer commits as soon as its queue is drained, so
under load the reports that arrive during one commit form the next one.

Every write of a running collector goes through it, the admission's too (source
keys, cohort holds; the new ids per source are noted in the transaction that
stores their reports): one writer per process, in the order the operations were
submitted. What must follow a commit in the same order (the admission's cache of
known ids, a cohort's hold) is its after-commit hook, run by the writer thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from .counts import Count
from .facade import Store
from .model import Pending, Report

log = logging.getLogger(__name__)

# Runs of a group whose transaction the database rolled back as a deadlock victim
# (or a serialization failure): nothing of it was committed, so it is run again.
ATTEMPTS = 3


@dataclass
class _Op:
    kind: str  # "add" (``Store.add_many``) or a Store method
    args: tuple
    future: Future = field(default_factory=Future)


class WriterClosed(RuntimeError):
    pass


# Told about each operation once its transaction committed, by the writer thread, in
# commit order, before the operation's waiter is answered: (kind, arguments,
# result), kind "add" (arguments: the report as submitted, with its Pending
# decision; none for a flush) or a Store method's name.
AfterCommit = Callable[[str, tuple, Any], None]


class Tally(Protocol):
    """Counts the process gathers in memory for the transparency ledger (refused
    reports): the writer takes them into its next commit and gives them back if
    that commit fails."""

    def take(self) -> list[Count]: ...

    def give_back(self, counts: Sequence[Count]) -> None: ...


class _NoTally:
    def take(self) -> list[Count]:
        return []

    def give_back(self, counts: Sequence[Count]) -> None:
        pass


class BatchWriter:
    """Single writer thread that commits queued operations in batches.

    Each submit returns a Future resolved only after the transaction holding the
    operation committed, so callers can acknowledge exactly what is durable.
    Operations are applied in submission order (a forget after a report wins).
    """

    def __init__(
        self,
        store: Store,
        max_batch: int = 500,
        tally: Tally | None = None,
        busy_wait: float = 0.0,
        after_commit: AfterCommit | None = None,
    ):
        self.store = store
        # Settable later: what needs the writer to exist (the admission) hooks on.
        self.after_commit: AfterCommit | None = after_commit
        self.max_batch = max_batch
        # Refused reports ride along with the next commit: no write of their own.
        self.tally: Tally = tally if tally is not None else _NoTally()
        # Group commit: the writer takes whatever is queued, commits it at once and
        # repeats; operations that arrive while a commit runs form the next batch,
        # so batches grow with the load. It lingers busy_wait for more only while
        # busy: operations were queued as its last commit ended and that batch
        # held more than one, or more were already waiting as it took the first of
        # the next. Under load, a millisecond or two gathers a batch about twice as
        # big, so fewer commits carry the same reports (less CPU per report, most
        # on PostgreSQL, whose cost goes with its statements); an idle collector
        # still commits a lone report at once.
        self.busy_wait = busy_wait
        self._busy = False
        self._queue: queue.Queue[_Op | None] = queue.Queue()
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name="tracking-collector-writer", daemon=True
        )
        self._thread.start()

    def depth(self) -> int:
        """Operations waiting for the writer thread (approximate, for metrics)."""
        return self._queue.qsize()

    def _submit(self, kind: str, *args: Any) -> Future:
        op = _Op(kind, args)
        with self._close_lock:
            if self._closed:
                raise WriterClosed("writer is closed")
            self._queue.put(op)
        return op.future

    def add(self, report: Report) -> Future:
        """Future: what the report was stored as (``Stored``)."""
        return self._submit("add", report)

    def complete(self, instance: str, pending: Pending) -> Future:
        """Future: what the report of ``instance`` is stored as once its admission
        is completed (``Store.complete``)."""
        return self._submit("complete", instance, pending)

    def forget(self, instance: str, now: float | None = None) -> Future:
        """Future: rows deleted."""
        return self._submit("forget", instance, now)

    def purge(self, older_than: float, now: float | None = None) -> Future:
        """Future: rows deleted."""
        return self._submit("purge", older_than, now)

    def flush(self) -> Future:
        """Commit the tally's counts now (the refresher asks every interval, so
        refusals reach the ledger without waiting for a report to commit with)."""
        return self._submit("add")

    def source_key(self, day: str, candidate: bytes) -> Future:
        """Future: the key of ``day`` (``candidate`` if it is the first)."""
        return self._submit("source_key", day, candidate)

    def drop_source_keys(self, before_day: str) -> Future:
        return self._submit("drop_source_keys", before_day)

    def drop_source_counts(self, before_day: str) -> Future:
        return self._submit("drop_source_counts", before_day)

    def hold_cohort(self, cohort: str, reason: str) -> Future:
        """Future: instances held."""
        return self._submit("hold_cohort", cohort, reason)

    def _collect(self, batch: list[_Op], linger: float = 0.0) -> bool:
        """Add queued operations to ``batch``, waiting up to ``linger`` seconds for
        more; True when the stop marker came."""
        get_nowait = self._queue.get_nowait
        deadline = None
        if linger > 0:
            deadline = time.monotonic() + linger
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
            try:
                first = self._queue.get_nowait()
            except queue.Empty:
                # Idle: whatever comes next did not queue up behind a commit, so
                # it is committed at once, however busy the last batch was.
                self._busy = False
                first = self._queue.get()
            if first is None:
                break
            batch = [first]
            busy = self._busy or not self._queue.empty()
            stop = self._collect(batch, self.busy_wait * busy)
            with self.store.write_lock():
                # Whatever queued up while waiting for the lock joins this commit.
                if not stop:
                    stop = self._collect(batch)
                self._apply(batch)
            self._busy = len(batch) > 1
        # What the tally still holds (refusals until the very end) in a last commit.
        try:
            self._commit_reports([])
        except Exception:
            log.exception("Could not write the last counts of refused reports")

    @staticmethod
    def _groups(batch: list[_Op]) -> Iterator[list[_Op]]:
        """Runs of reports (and flushes), which share one transaction
        (``Store.add_many`` answers per report); every other operation on its own."""
        current: list[_Op] = []
        for op in batch:
            if current and (op.kind != "add" or current[0].kind != "add"):
                yield current
                current = []
            current.append(op)
        if current:
            yield current

    def _run_group(self, group: list[_Op]) -> Any:
        """The group's transaction; what the store answered."""
        kind = group[0].kind
        if kind == "add":
            return self._commit_reports([op.args[0] for op in group if op.args])
        return getattr(self.store, kind)(*group[0].args)

    @staticmethod
    def _answers(group: list[_Op], answer: Any) -> list[Any]:
        """Each operation's result, from what its group's transaction answered."""
        if group[0].kind == "add":
            # A flush (no report) rides along with the reports: True for it.
            stored = iter(answer)
            return [next(stored) if op.args else True for op in group]
        return [answer]

    def _commit_reports(self, reports: list[Report]) -> list[Any]:
        counts = self.tally.take()
        if not reports and not counts:
            return []
        try:
            return self.store.add_many(reports, counts)
        except BaseException:
            self.tally.give_back(counts)
            raise

    def _attempt(self, group: list[_Op]) -> Any:
        """Run a group's transaction, again while the store says a failure was
        transient (nothing of it was committed)."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._run_group(group)
            except Exception as exc:
                if attempt == ATTEMPTS or not self.store.transient(exc):
                    raise
                log.warning(
                    "Write rolled back (%s); running it again", type(exc).__name__
                )
        raise AssertionError("unreachable")

    def _apply(self, batch: list[_Op]) -> None:
        for group in self._groups(batch):
            self._apply_group(group)

    def _apply_group(self, group: list[_Op]) -> None:
        # Only an exception of the transaction itself decides a retry or a split:
        # nothing of it was committed then.
        try:
            answer = self._attempt(group)
        except Exception as exc:  # noqa: BLE001 - reported to every waiter
            if len(group) > 1 and not self.store.unavailable(exc):
                # One report the store cannot take (a value the database refuses)
                # must not fail the others of its batch: each is committed alone,
                # and only that one is refused.
                log.warning(
                    "A batch of %d failed (%s); writing it one by one",
                    len(group),
                    type(exc).__name__,
                )
                for op in group:
                    self._apply_group([op])
                return
            for op in group:
                op.future.set_exception(exc)
            return
        # Committed: whatever fails from here on, the group is not written again.
        try:
            results = self._answers(group, answer)
        except Exception as exc:  # noqa: BLE001 - reported to every waiter
            log.exception("A commit of %d operations answered nothing usable", len(group))
            for op in group:
                op.future.set_exception(exc)
            return
        for op, result in zip(group, results):
            self._after_commit(op, result)
            op.future.set_result(result)

    def _after_commit(self, op: _Op, result: Any) -> None:
        if self.after_commit is None:
            return
        try:
            self.after_commit(op.kind, op.args, result)
        except Exception:
            # Committed all the same: the operation is answered whatever the hook.
            log.exception("After-commit hook failed")

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting work, finish everything queued (and commit the tally),
        stop the thread."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)
