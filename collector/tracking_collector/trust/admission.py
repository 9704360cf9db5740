"""Admission policy: which instances count in the public numbers, decided at ingest.

Every report is judged before its client address is dropped:

- **Plausibility.** A report that breaks a rule of :mod:`.plausibility` holds its
  instance out of the public numbers, reason ``implausible:<rule>``.
- **New ids per source.** The source is the client's network (see :mod:`.sources`).
  Per source and UTC day, the distinct new instance ids are counted. A real network
  adds a few new OctoPrint instances a day; instances that already exist do not
  count, so a print farm with dozens of long-lived instances behind one address, or
  a carrier-grade NAT, is never affected. When a source creates more than
  ``new_ids_per_source`` new ids in one day, every new id of that source and day is
  held, those admitted before the budget ran out included (reason
  ``source_burst``): otherwise each burst would still push ``budget`` fakes a day.
- A real instance seen for the first time counts at once unless one of the above
  applies.

Held instances are not dropped: they keep their reports under a cohort (the source
hash of the day they appeared) that the operator can list, release or purge.

Lifetime is the third defence and is applied where trends are computed, not here:
the store's rollups leave out instances that vanished within minutes of appearing
(``store.Lifetime``, configured by :class:`~.policy.Policy`).

Every decision is logged with the cohort and the reason, never with an address or
an instance id.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Protocol

from ..store import Pending, Stored, WriterClosed
from ..timefmt import utc_day
from . import plausibility
from .policy import Decision, Policy
from .sources import SourceKeys

log = logging.getLogger(__name__)

SOURCE_BURST = "source_burst"
REHOLD_SECONDS = 2.0
IMPLAUSIBLE = "implausible:"


class AdmissionState(Protocol):
    """Shared state of the policy, in the store so every process sees the same."""

    def is_known(self, instance: str) -> bool | None:
        """True when the store already has this instance, as far as this process
        knows; None otherwise: only the store can tell, as it writes the report
        (the decision is then left to the writer:
        :class:`~tracking_collector.store.model.Pending`)."""
        ...

    def remember(self, instance: str) -> None:
        """The store has ``instance`` now (its report was stored)."""
        ...

    def hold_cohort(self, cohort: str, reason: str) -> int:
        """Hold every public instance of ``cohort``; return how many changed."""
        ...

    def queue_hold(self, cohort: str, reason: str) -> Future:
        """:meth:`hold_cohort` without waiting for it (the writer's own thread
        asks): a Future of how many changed."""
        ...

    def bursting(self, budget: int) -> list[str]:
        """Sources that created more than ``budget`` new ids on a day still counted."""
        ...

    def forget_days_before(self, day: str) -> int:
        """Drop the per-source counts of days before ``day``."""
        ...

    def forget_known(self, instance: str) -> None:
        """The store no longer has ``instance`` (it was forgotten)."""
        ...

    def complete(self, instance: str, pending: Pending) -> Stored:
        """Complete ``pending`` for an instance whose row was just created
        although it was thought known (``Store.complete``)."""
        ...


class Admission:
    """The callable the collector runs per report while it still knows the address."""

    def __init__(
        self,
        keys: SourceKeys,
        state: AdmissionState,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.keys = keys
        self.state = state
        self.policy = policy or Policy()
        self.clock = clock
        # Cohorts this process has seen bursting, with the (monotonic) time of
        # their last hold: see _burst.
        self._bursting: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(
        self, report: Any, client_ip: Any, user_agent: str | None = None
    ) -> Decision | Pending:
        """The decision about ``report``'s instance if this process knows it;
        otherwise a :class:`Pending` one: only the store can tell whether the
        instance is new (the writer completes it in the transaction that stores
        the report, then :meth:`committed`)."""
        now = self.clock()
        cohort = self.keys.source(client_ip)
        if self.state.is_known(report.instance):
            reasons = self.implausible(report, user_agent, now, new=False)
            stored = Stored(reasons[0] if reasons else None, False, 0)
            self._judged(cohort, stored)
            return Decision(stored.held, cohort)
        return self._pending(report, user_agent, now, cohort)

    def _pending(
        self, report: Any, user_agent: str | None, now: float, cohort: str | None
    ) -> Pending:
        """The decision for both answers to "is the instance new?"."""
        budget = self.policy.new_ids_per_source
        counted = cohort is not None and budget > 0
        as_new = self.implausible(report, user_agent, now, new=True)
        as_known = self.implausible(report, user_agent, now, new=False)
        return Pending(
            day=utc_day(now),
            source=cohort,
            token=self.keys.token(report.instance) if counted else None,
            budget=budget,
            if_known=as_known[0] if as_known else None,
            if_new=as_new[0] if as_new else None,
            if_burst=SOURCE_BURST,
        )

    def committed(self, kind: str, args: tuple, result: Any) -> None:
        """The writer's after-commit hook (``BatchWriter.after_commit``): run by
        the writer thread in commit order, so the cache of known ids follows the
        store (a report and a forget of one id in one batch leave it unknown,
        whichever request thread wakes first), and a source past its budget has
        its hold queued before the report is answered, without waiting for it."""
        if kind == "add" and args and args[0].pending is not None:
            report = args[0]
            self._settled(report.instance, report.pending, result)
        elif kind == "complete":
            self._settled(*args, result)
        elif kind == "forget":
            # The id is new again.
            self.state.forget_known(args[0])

    def _settled(self, instance: str, pending: Pending, stored: Stored) -> None:
        """After the writer stored a report whose decision it completed: the
        instance is known now; a source past its budget has its cohort held."""
        self.state.remember(instance)
        self._judged(pending.source, stored)

    def recreated(self, report: Any, user_agent: str | None) -> Stored | None:
        """``report`` was decided as from a known instance, but the writer created
        the instance's row: another process forgot the id since this one learnt
        it (or this one did, its DELETE queued before the report: the cache
        no longer has the id by now, so it is not asked). Completes the decision
        as for a new id (its source's budget, the rules for new instances),
        before the report is acknowledged; what it is stored as then. The
        writer's hook (:meth:`committed`) settles it once committed."""
        pending = self._pending(report, user_agent, self.clock(), report.cohort)
        return self.state.complete(report.instance, pending)

    def _judged(self, cohort: str | None, stored: Stored) -> None:
        if stored.held == SOURCE_BURST and cohort is not None:
            self._burst(cohort)
        elif stored.held is not None:
            log.info(
                "Holding %s instance of cohort %s: %s",
                "new" if stored.new else "known",
                cohort,
                stored.held,
            )

    def implausible(
        self, report: Any, user_agent: str | None, now: float, new: bool
    ) -> list:
        if not self.policy.plausibility:
            return []
        sample = plausibility.Sample(
            fields=report.fields, user_agent=user_agent, age=max(0.0, now - report.ts)
        )
        return [IMPLAUSIBLE + c for c in plausibility.violations(sample, new)]

    def _burst(self, cohort: str) -> None:
        # Held again while the burst goes on, not only on the report that crossed
        # the budget: with several processes no single report is sure to see the
        # crossing, and an instance admitted concurrently is caught by a later
        # hold. At most one hold per cohort and REHOLD_SECONDS in this process, so
        # a burst of thousands costs a few updates, not one per report.
        tick = time.monotonic()
        with self._lock:
            last = self._bursting.get(cohort)
            due = last is None or tick - last >= REHOLD_SECONDS
            if due:
                self._bursting[cohort] = tick
        if not due:
            return
        try:
            held = self.state.queue_hold(cohort, SOURCE_BURST)
        except WriterClosed:
            return  # shutting down: the sweep of the next start holds it
        held.add_done_callback(lambda done: self._held(cohort, last is None, done))

    def _held(self, cohort: str, first: bool, done: Future) -> None:
        if done.exception() is not None:
            log.warning(
                "Could not hold source cohort %s (%s): the next sweep does",
                cohort,
                type(done.exception()).__name__,
            )
            return
        changed = done.result()
        if first or changed:
            # The store counts a source's new ids only just past its budget (the
            # decision needs no more), so the line says "more than".
            log.warning(
                "Source cohort %s created more than %d new instance ids today:"
                " its new instances are held (%s), %d changed now",
                cohort,
                self.policy.new_ids_per_source,
                SOURCE_BURST,
                changed,
            )

    def sweep(self) -> int:
        """Hold the cohorts of every source over its budget once more.

        The hold at ingest runs beside the writers of other processes: an instance
        of a bursting source admitted concurrently with the hold can land public
        after it. The periodic sweep (and the one before a day's counts are
        dropped) catches those. Returns the instances it held.
        """
        budget = self.policy.new_ids_per_source
        if not budget:
            return 0
        return sum(
            self.state.hold_cohort(cohort, SOURCE_BURST)
            for cohort in self.state.bursting(budget)
        )

    def rotate(self) -> int:
        """Hourly housekeeping: sweep, then destroy old keys and old per-source
        counts. Returns the keys destroyed."""
        self.sweep()
        deleted = self.keys.rotate()
        self.state.forget_days_before(self.keys.day())
        with self._lock:
            self._bursting.clear()
        return deleted
