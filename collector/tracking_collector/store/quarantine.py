"""Held instances (issue 13): hold, release and purge them, and list the cohorts.

A held instance is stored but left out of every public number; each change marks
its days dirty, so the next refresh recomputes them with or without it.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import plugins
from .counts import PURGED, RELEASED, Counts, decision
from .days import Days, Locked
from .engine import Cursor, Engine, chunked, placeholders
from .model import CohortSummary
from .writes import Writes


def _held_in(cohort: str | None) -> tuple[str, tuple]:
    """The held instances of ``cohort`` (None or "": the held ones without one, as
    :meth:`Quarantine.cohorts` lists them). A cohort is the source and day an
    instance appeared, so public instances share it: the operator's commands act
    on the held ones only."""
    if cohort in (None, ""):
        return "cohort IS NULL AND held IS NOT NULL", ()
    return "cohort = ? AND held IS NOT NULL", (cohort,)


def _update(q: Cursor, assignments: str, args: tuple, instances: list[Locked]) -> None:
    """``UPDATE instances SET assignments`` of exactly the ``instances`` this
    transaction locked (so it takes no row lock after its dirty marks)."""
    ids = [i.id for i in instances]
    for chunk in chunked(ids):
        q.run(
            f"UPDATE instances SET {assignments} WHERE id IN {placeholders(chunk)}",
            (*args, *chunk),
        )


class Quarantine:
    """Each change locks its instance rows first (``Days.lock_instances``), then
    marks their days dirty, then updates exactly those rows."""

    def __init__(
        self,
        engine: Engine,
        days: Days,
        writes: Writes,
        refresh: Callable[[], object],
        counts: Counts,
    ):
        self.engine = engine
        self.days = days
        self.writes = writes
        # Releases and purges are public decisions: the transparency ledger counts
        # them in the transaction that makes them.
        self.counts = counts
        # Recomputes the rollups at once (after a release, which an operator
        # expects to see in the public numbers right away).
        self.refresh = refresh

    def hold_cohort(self, cohort: str, reason: str) -> int:
        """Hold every public instance of ``cohort`` that no operator released (a
        source over its budget); returns instances held. Their days are recomputed
        at the next refresh."""
        where = "cohort = ? AND held IS NULL AND released = 0"
        with self.engine.write() as q:
            found = self.days.lock_instances(q, where, (cohort,))
            self.days.mark_instances(q, found)
            _update(q, "held = ?", (reason,), found)
        return len(found)

    def release_cohort(self, cohort: str | None, now: float | None = None) -> int:
        """Put a held cohort into the public numbers; returns instances released."""
        where, args = _held_in(cohort)
        with self.engine.write() as q:
            found = self.days.lock_instances(q, where, args)
            self.days.mark_instances(q, found)
            _update(q, "held = NULL, released = 1", (), found)
            self.counts.add(q, decision(now, RELEASED, len(found), cohorts=1))
        self.refresh()
        return len(found)

    def purge_cohort(self, cohort: str | None, now: float | None = None) -> int:
        """Forget every held instance of a cohort; returns instances removed."""
        where, args = _held_in(cohort)
        with self.engine.write() as q:
            # All of them locked before the first is deleted (and its days marked).
            found = self.days.lock_instances(q, where, args)
            for instance in found:
                self.writes.forget_in(q, instance.uuid)
            self.counts.add(q, decision(now, PURGED, len(found), cohorts=1))
        if found:
            self.engine.scrub()
        return len(found)

    def cohorts(self) -> list[CohortSummary]:
        """Held instances grouped by cohort (NULL cohort as "")."""
        with self.engine.read() as q:
            rows = q.rows(
                "SELECT cohort, held, first_seen, last_seen, plugins FROM instances"
                " WHERE held IS NOT NULL"
            )
        groups: dict[str, CohortSummary] = {}
        for cohort, held, first, last, listed in rows:
            key = cohort or ""
            g = groups.get(key)
            if g is None:
                g = groups[key] = CohortSummary(key, 0, first, last, {}, {})
            g.instances += 1
            g.first_seen, g.last_seen = min(g.first_seen, first), max(g.last_seen, last)
            g.reasons[held] = g.reasons.get(held, 0) + 1
            for plugin_id, _ in plugins.entries(listed):
                g.plugins[plugin_id] = g.plugins.get(plugin_id, 0) + 1
        return sorted(groups.values(), key=lambda g: (-g.instances, g.cohort))
