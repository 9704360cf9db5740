"""Refused reports, tallied in memory per UTC day and error code for the ledger.

A refused request must not cost a database write (garbage requests would drive
writes), so each process counts its refusals here and its writer adds them to its
next commit (``BatchWriter``'s tally), or the refresher flushes them every interval.
A crash loses at most the refusals since the last commit; accepted reports are
never lost. Keys are the collector's own error codes, never client text.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Callable

from ..store.counts import REFUSED, Count
from ..timefmt import day_of


class Refusals:
    """The tally of one process: ``add`` from request threads, ``take`` from the
    writer thread."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._counts: Counter = Counter()
        self._lock = threading.Lock()

    def add(self, code: str) -> None:
        key = (day_of(self.clock()), code)
        with self._lock:
            self._counts[key] += 1

    def pending(self) -> bool:
        """Whether anything was counted since the last ``take``."""
        with self._lock:
            return bool(self._counts)

    def take(self) -> list[Count]:
        """Everything counted so far, as ledger counts; the tally starts afresh."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return [(day, REFUSED, code, n) for (day, code), n in sorted(counts.items())]

    def give_back(self, counts: Sequence[Count]) -> None:
        """Counts whose commit failed, kept for the next one."""
        with self._lock:
            for day, _, code, n in counts:
                self._counts[(day, code)] += n
