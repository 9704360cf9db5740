"""The outbox: a bounded FIFO of reports waiting for the worker."""

from __future__ import annotations

import collections
from typing import Deque, List, Optional

from ..core.model import Report


class _Slot:
    """A place in the queue; a superseded ping leaves its slot empty."""

    __slots__ = ("report",)

    def __init__(self, report: Report):
        self.report: Optional[Report] = report


class Outbox:
    """Bounded FIFO of reports; not thread-safe on its own (Delivery holds the lock).

    Every operation the host thread reaches is O(1): a superseded ping only empties
    its slot, which is skipped when it reaches the front.
    """

    def __init__(self, capacity: int = 1000):
        self.capacity = max(1, capacity)
        self.items: Deque[_Slot] = collections.deque()
        self.dropped = 0
        self._ping: Optional[_Slot] = None
        """The slot of the one undelivered ping that counts, if any."""
        self._stale = 0

    @property
    def ping(self) -> Optional[Report]:
        return self._ping.report if self._ping else None

    def __len__(self) -> int:
        return len(self.items) - self._stale

    def put(self, report: Report) -> None:
        if report.name == "ping" and self._ping is not None:
            # One undelivered ping says as much as many: keep only the latest.
            self._supersede()
        if len(self) >= self.capacity:
            # Full: the ping goes first (there is at most one), then the oldest.
            if self._ping is not None:
                self._supersede()
            else:
                self.popleft()
                self.dropped += 1
        self._append(report, self.items.append)

    def popleft(self) -> Report:
        while True:
            slot = self.items.popleft()
            if slot.report is None:
                self._stale -= 1
                continue
            if slot is self._ping:
                self._ping = None
            return slot.report

    def appendleft(self, report: Report) -> None:
        """Put a report back at the front (after a failed attempt)."""
        if report.name == "ping" and self._ping is not None:
            return  # a newer ping came in meanwhile
        self._append(report, self.items.appendleft)

    def pending(self) -> List[Report]:
        return [s.report for s in self.items if s.report is not None]

    def clear(self) -> None:
        self.items.clear()
        self._ping = None
        self._stale = 0

    def _append(self, report: Report, add) -> None:
        slot = _Slot(report)
        add(slot)
        if report.name == "ping":
            self._ping = slot

    def _supersede(self) -> None:
        assert self._ping is not None
        self._ping.report = None
        self._ping = None
        self._stale += 1
        self.dropped += 1
        if self._stale > self.capacity:
            # Rare (a ping every 15 minutes against a dead server): keep memory bound.
            self.items = collections.deque(s for s in self.items if s.report is not None)
            self._stale = 0
