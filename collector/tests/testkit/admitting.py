"""The admission on in-memory state, for unit tests (``MemoryState``,
``MemoryKeys``), and a report through it as a collector runs it:
the decision (a Pending one for an id the process does not know), the store's
completion of it (``MemoryState.write``, as ``TrustTables.settle``), then the
writer's after-commit step (``Admission.committed``)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from tracking_collector.store import Pending, Report, Stored
from tracking_collector.trust.admission import Admission


def admit(
    admission: Admission, report: Report, address: Any, user_agent: str | None = None
) -> Stored:
    """What ``report`` from ``address`` is stored as (``held``, ``new``, ``created``);
    ``admission.state`` is a ``MemoryState``."""
    verdict = admission(report, address, user_agent)
    if isinstance(verdict, Pending):
        report = replace(report, cohort=verdict.source, pending=verdict)
    else:
        report = replace(report, held=verdict.held, cohort=verdict.cohort)
    stored = admission.state.write(report)
    admission.committed("add", (report,), stored)
    return stored


class MemoryState:
    """In-process ``AdmissionState`` for unit tests: the store's instances
    (``cohorts``, ``held``, ``created``) and the process's cache of known ids
    (``known``) in memory. :meth:`write` is what the store and its writer do
    with one report."""

    def __init__(self, known: Iterable[str] = ()):
        self.known = set(known)
        # Stored instances, with their cohort (None: no source).
        self.cohorts: dict[str, str | None] = dict.fromkeys(self.known)
        self.created: dict[tuple[str, str], set[str]] = {}
        self.held: dict[str, str] = {}

    def is_known(self, instance: str) -> bool | None:
        return True if instance in self.known else None

    def remember(self, instance: str) -> None:
        self.known.add(instance)

    def forget_known(self, instance: str) -> None:
        self.known.discard(instance)

    def write(self, report: Any) -> Stored:
        """Store ``report`` (admitted: its decision, or its Pending one completed
        as ``TrustTables.settle`` does); what it is stored as."""
        new = report.instance not in self.cohorts
        pending = report.pending
        if pending is None:
            held, created = report.held, 0
        else:
            created = self._count_new(pending) if new else 0
            held = pending.held(new, created)
        if new:
            self.cohorts[report.instance] = report.cohort
        self._hold(report.instance, held)
        return Stored(held, new, created)

    def complete(self, instance: str, pending: Pending) -> Stored:
        created = self._count_new(pending)
        held = pending.held(True, created)
        self._hold(instance, held)
        return Stored(held, True, created)

    def _count_new(self, pending: Pending) -> int:
        """Note the instance among its source's new ids of the day; how many."""
        if pending.token is None or pending.source is None:
            return 0
        ids = self.created.setdefault((pending.day, pending.source), set())
        ids.add(pending.token)
        return len(ids)

    def _hold(self, instance: str, held: str | None) -> None:
        if held and instance not in self.held:
            self.held[instance] = held

    def hold_cohort(self, cohort: str, reason: str) -> int:
        changed = [
            i for i, c in self.cohorts.items() if c == cohort and i not in self.held
        ]
        for instance in changed:
            self.held[instance] = reason
        return len(changed)

    def queue_hold(self, cohort: str, reason: str) -> Future:
        done: Future = Future()
        done.set_result(self.hold_cohort(cohort, reason))
        return done

    def bursting(self, budget: int) -> list[str]:
        return sorted({s for (_, s), ids in self.created.items() if len(ids) > budget})

    def forget_days_before(self, day: str) -> int:
        old = [key for key in self.created if key[0] < day]
        for key in old:
            del self.created[key]
        return len(old)


class MemoryKeys:
    """The source keys' backend in this process only (the store's ``source_keys``
    table in a collector)."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def key_for_day(self, day: str, candidate: bytes) -> bytes:
        with self._lock:
            return self._keys.setdefault(day, candidate)

    def delete_keys_before(self, day: str) -> int:
        with self._lock:
            old = [d for d in self._keys if d < day]
            for d in old:
                del self._keys[d]
            return len(old)

    def days(self) -> list[str]:
        with self._lock:
            return sorted(self._keys)
