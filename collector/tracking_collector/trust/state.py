"""The admission's shared state on the collector's store, so every process and
machine of one collector judges alike.

:class:`StoreKeys` (the daily source keys) and :class:`StoreState` (cohort holds,
which ids this process knows to exist) read through the store's public API and
write through its single writer (``BatchWriter``): a request that needs a write
(once a day a key, a cohort's hold) waits for that writer like a report does.
Whether an id this process does not know is new, and its source's count of new
ids, are decided by the writer in the transaction that stores the report
(``Pending``): no request waits for a store read or a write of its own for them.
An id this process knows may have been forgotten by another process meanwhile:
the writer then reports that it created the instance's row, and the decision is
completed as for a new id (:meth:`Admission.recreated`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Callable

from ..store import Pending, Stored
from .admission import Admission
from .policy import Policy
from .sources import SourceKeys

# Instance ids this process recently stored: most reports come from instances the
# store already has, and for them the decision needs no store at all.
KNOWN_CACHE = 200_000


class _Written:
    """Writes through the writer, waiting for each to be committed."""

    def __init__(self, writer: Any, timeout: float):
        self.writer = writer
        self.timeout = timeout

    def _wait(self, future: Future) -> Any:
        return future.result(timeout=self.timeout)


class StoreKeys(_Written):
    """:class:`~tracking_collector.trust.sources.KeyBackend` in the store."""

    def key_for_day(self, day: str, candidate: bytes) -> bytes:
        return self._wait(self.writer.source_key(day, candidate))

    def delete_keys_before(self, day: str) -> int:
        return self._wait(self.writer.drop_source_keys(day))


class StoreState(_Written):
    """:class:`~tracking_collector.trust.admission.AdmissionState` on the store."""

    def __init__(self, store: Any, writer: Any, timeout: float, cache: int = KNOWN_CACHE):
        super().__init__(writer, timeout)
        self.store = store
        self._known: OrderedDict[str, None] = OrderedDict()
        self._cache = cache
        self._lock = threading.Lock()

    def is_known(self, instance: str) -> bool | None:
        """True for an id this process stored; else None: the writer decides."""
        with self._lock:
            if instance in self._known:
                self._known.move_to_end(instance)
                return True
        return None

    def remember(self, instance: str) -> None:
        with self._lock:
            self._known[instance] = None
            self._known.move_to_end(instance)
            while len(self._known) > self._cache:
                self._known.popitem(last=False)

    def forget_known(self, instance: str) -> None:
        """After a forget the id is new again."""
        with self._lock:
            self._known.pop(instance, None)

    def complete(self, instance: str, pending: Pending) -> Stored:
        return self._wait(self.writer.complete(instance, pending))

    def hold_cohort(self, cohort: str, reason: str) -> int:
        return self._wait(self.writer.hold_cohort(cohort, reason))

    def queue_hold(self, cohort: str, reason: str) -> Future:
        return self.writer.hold_cohort(cohort, reason)

    def bursting(self, budget: int) -> list[str]:
        return self.store.bursting(budget)

    def forget_days_before(self, day: str) -> int:
        return self._wait(self.writer.drop_source_counts(day))


def store_admission(
    store: Any, writer: Any, policy: Policy, clock: Callable[[], float], timeout: float
) -> Admission:
    """The admission policy of issue 13 on a collector's store and writer (told
    by the writer what each commit stored or forgot)."""
    admission = Admission(
        SourceKeys(StoreKeys(writer, timeout), clock),
        StoreState(store, writer, timeout),
        policy,
        clock,
    )
    writer.after_commit = admission.committed
    return admission
