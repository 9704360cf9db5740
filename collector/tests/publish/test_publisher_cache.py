"""The publisher's cache: one computation per key at a time, its result or its
error shared by the requests that waited for it."""

from __future__ import annotations

import threading
import time

import pytest

from tracking_collector.publish.publisher import Publisher


class _DownStore:
    """A store whose every read fails after a while (a database that times out)."""

    def __init__(self):
        self.reads = 0
        self.started = threading.Event()
        self.release = threading.Event()

    def snapshot(self):
        self.reads += 1
        self.started.set()
        self.release.wait(10)
        raise OSError("database unavailable")


def test_requests_waiting_for_a_failing_computation_share_its_error():
    store = _DownStore()
    publisher = Publisher(store, min_group=10, clock=time.time, cache_seconds=60)
    errors: list[Exception] = []

    def ask() -> None:
        try:
            publisher.figures()
        except OSError as exc:
            errors.append(exc)

    first = threading.Thread(target=ask)
    first.start()
    assert store.started.wait(10)
    waiting = [threading.Thread(target=ask) for _ in range(5)]
    for t in waiting:
        t.start()
    store.release.set()
    for t in [first, *waiting]:
        t.join(30)
    assert len(errors) == 6
    assert store.reads == 1  # one timeout, not one per waiting request


def test_a_failure_is_not_cached_for_long(monkeypatch):
    from tracking_collector.publish import publisher as module

    store = _DownStore()
    store.release.set()
    publisher = Publisher(store, min_group=10, clock=time.time, cache_seconds=60)
    with pytest.raises(OSError):
        publisher.figures()
    with pytest.raises(OSError):
        publisher.figures()
    assert store.reads == 1
    monkeypatch.setattr(module, "FAILURE_SECONDS", 0.0)
    with pytest.raises(OSError):
        publisher.figures()
    assert store.reads == 2  # tried again once the failure is older than that
