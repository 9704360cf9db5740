"""The admission's shared state on the collector's store, so every process and
machine of one collector judges alike.

:class:`StoreKeys` (the daily source keys) and :class:`StoreState` (new ids per
source, cohort holds, which ids exist) read through the store's public API and
write through its single writer (``BatchWriter``): a request that needs a write
(a new id, once a day a key) waits for that writer like a report does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Callable

from .admission import Admission
from .policy import Policy
from .sources import SourceKeys

# Recently confirmed instance ids per process: most reports come from instances the
# store already has, and the cache spares one read transaction for each of them.
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

    def is_known(self, instance: str) -> bool:
        with self._lock:
            if instance in self._known:
                self._known.move_to_end(instance)
                return True
        found = self.store.is_known(instance)
        if found:
            with self._lock:
                self._known[instance] = None
                while len(self._known) > self._cache:
                    self._known.popitem(last=False)
        return found

    def forget_known(self, instance: str) -> None:
        """After a forget the id is new again."""
        with self._lock:
            self._known.pop(instance, None)

    def note_new(self, day: str, source: str, instance: str) -> int:
        return self._wait(self.writer.note_new(day, source, instance))

    def hold_cohort(self, cohort: str, reason: str) -> int:
        return self._wait(self.writer.hold_cohort(cohort, reason))

    def bursting(self, budget: int) -> list[str]:
        return self.store.bursting(budget)

    def forget_days_before(self, day: str) -> int:
        return self._wait(self.writer.drop_source_counts(day))


def store_admission(
    store: Any, writer: Any, policy: Policy, clock: Callable[[], float], timeout: float
) -> Admission:
    """The admission policy of issue 13 on a collector's store and writer."""
    return Admission(
        SourceKeys(StoreKeys(writer, timeout), clock),
        StoreState(store, writer, timeout),
        policy,
        clock,
    )
