"""The Store: one object for the rest of the collector, made of small parts.

``Store`` composes an :class:`~.engine.Engine` (the database: SQLite or
PostgreSQL) with the domain parts that share it: :class:`~.writes.Writes`
(ingest, forget, purge), :class:`~.quarantine.Quarantine`,
:class:`~.rollups.Rollups`, :class:`~.reads.Reads`, :class:`~.trust.TrustTables`,
:class:`~.archive.Archive` and the transparency ledger (:class:`~.counts.Counts`).
Its methods are the store's public API; the parts and the engine stay behind it
(``engine`` is public for tools that need a raw read, such as benchmarks and tests).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

from .archive import Archive, ArchivedFile
from .counts import Count, Counts
from .days import Days
from .engine import Engine
from .model import (
    RECENT_EVENTS,
    CohortSummary,
    InstanceRecord,
    Pending,
    Report,
    Stored,
)
from .quarantine import Quarantine
from .reads import Reads
from .rollups import Lifetime, Rollups
from .schema import migrate
from .trust import TrustTables
from .writes import Writes


class Store:
    """A report store on one engine; thread safe."""

    def __init__(self, engine: Engine, lifetime: Lifetime | None = None):
        self.engine = engine
        days = Days(engine)
        counts = Counts(engine, days.shard)
        self._trust = TrustTables(engine)
        self._writes = Writes(engine, days, counts, self._trust)
        self._rollups = Rollups(engine, days, lifetime or Lifetime(), counts)
        self._reads = Reads(engine, days)
        self._quarantine = Quarantine(
            engine, days, self._writes, lambda: self.refresh(force=True), counts
        )
        self._archive = Archive(engine)
        migrate(engine, self._writes.ingest, days.mark_all)

    @property
    def lifetime(self) -> Lifetime:
        """The lifetime rule the rollups apply (set where the store is opened)."""
        return self._rollups.lifetime

    @lifetime.setter
    def lifetime(self, value: Iterable[float]) -> None:
        self._rollups.lifetime = Lifetime(*value)

    def write_lock(self) -> contextlib.AbstractContextManager[None]:
        return self.engine.write_lock()

    def transient(self, error: BaseException) -> bool:
        """Whether a failed write may succeed if run again (nothing of it stayed)."""
        return self.engine.transient(error)

    def unavailable(self, error: BaseException) -> bool:
        """Whether a failed write failed for the database's sake, not its data's."""
        return self.engine.unavailable(error)

    def close(self) -> None:
        self.engine.close()

    # ---- writes (in a running collector, from its BatchWriter) -----------------------

    def add_many(
        self, reports: Sequence[Report], counts: Sequence[Count] = ()
    ) -> list[Stored]:
        return self._writes.add_many(reports, counts)

    def complete(self, instance: str, pending: Pending) -> Stored:
        return self._writes.complete(instance, pending)

    def forget(self, instance: str, now: float | None = None) -> int:
        return self._writes.forget(instance, now)

    def purge(self, older_than: float, now: float | None = None) -> int:
        return self._writes.purge(older_than, now)

    def copy_to(self, target: Store) -> dict[str, int]:
        """Copy every stored instance, day, event and counter into an empty
        ``target`` (another backend), then recompute its rollups; rows per table."""
        copied = self._writes.copy_to(target.engine)
        target.recompute()
        return copied

    # ---- quarantine ------------------------------------------------------------------

    def hold_cohort(self, cohort: str, reason: str) -> int:
        return self._quarantine.hold_cohort(cohort, reason)

    def release_cohort(self, cohort: str | None, now: float | None = None) -> int:
        return self._quarantine.release_cohort(cohort, now)

    def purge_cohort(self, cohort: str | None, now: float | None = None) -> int:
        return self._quarantine.purge_cohort(cohort, now)

    def cohorts(self) -> list[CohortSummary]:
        return self._quarantine.cohorts()

    # ---- the admission's state -------------------------------------------------------

    def source_key(self, day: str, candidate: bytes) -> bytes:
        return self._trust.source_key(day, candidate)

    def drop_source_keys(self, before_day: str) -> int:
        return self._trust.drop_source_keys(before_day)

    def bursting(self, budget: int) -> list[str]:
        return self._trust.bursting(budget)

    def drop_source_counts(self, before_day: str) -> int:
        return self._trust.drop_source_counts(before_day)

    # ---- rollups ---------------------------------------------------------------------

    def refresh(
        self, now: float | None = None, force: bool = False, budget: float | None = None
    ) -> bool:
        return self._rollups.refresh(now, force, budget)

    def recompute(self, days: Iterable[int] | None = None) -> None:
        self._rollups.recompute(days)

    def refresh_lock(self, wait: bool = False) -> contextlib.AbstractContextManager[bool]:
        """The refresher's lock (one process at a time, across machines on
        PostgreSQL): yields whether it was obtained. The archive is written under
        it."""
        return self.engine.refresh_lock(wait)

    def final_day(self, now: float, max_age: float) -> int:
        return self._rollups.final_day(now, max_age)

    def dirty_days(self) -> set[int]:
        return self._reads.dirty_days()

    # ---- the dated archive (immutable, kept beyond retention) ------------------------

    def archive(
        self,
        day: int,
        files: Sequence[tuple[str, int, bytes]],
        entries: Sequence[tuple[str, str]] = (),
    ) -> list[str]:
        return self._archive.add(day, files, entries)

    def archive_index(self) -> list[ArchivedFile]:
        return self._reads.archive_index()

    def archive_days(self, name: str) -> set[int]:
        return self._reads.archive_days(name)

    def archive_file(self, day: int, name: str) -> ArchivedFile | None:
        return self._reads.archive_file(day, name)

    def archived_entries(self, key: str, since_day: int = 0) -> dict[int, str]:
        return self._reads.archived_entries(key, since_day)

    # ---- reads -----------------------------------------------------------------------

    def snapshot(self) -> contextlib.AbstractContextManager[None]:
        return self._reads.snapshot()

    def window(
        self, days: int, metrics: Sequence[str] | None = None
    ) -> dict[str, dict[str, int]]:
        return self._reads.window(days, metrics)

    def daily(
        self, metrics: Sequence[str], since_day: int, until_day: int | None = None
    ) -> dict[str, dict[int, dict[str, int]]]:
        return self._reads.daily(metrics, since_day, until_day)

    def print_days(self, since_day: int) -> list[tuple]:
        return self._reads.print_days(since_day)

    def plugin_versions(
        self, plugin: str, since_day: int, until_day: int
    ) -> dict[int, dict[str, int]]:
        return self._reads.plugin_versions(plugin, since_day, until_day)

    def daily_counts(
        self, since_day: int, until_day: int
    ) -> dict[int, dict[tuple[str, str], int]]:
        return self._reads.daily_counts(since_day, until_day)

    def instance(self, uuid: str, events: int = RECENT_EVENTS) -> InstanceRecord | None:
        return self._reads.instance(uuid, events)

    def ingest_counts(self, since_day: int = 0) -> dict[int, dict[str, int]]:
        return self._reads.ingest_counts(since_day)
