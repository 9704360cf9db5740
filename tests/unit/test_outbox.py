"""The outbox: bounded, one ping at most, drops counted, O(1) for the host thread."""

from __future__ import annotations

from octoprint_tracking.core import builders, model
from octoprint_tracking.delivery.outbox import Outbox


def ping(n):
    return builders.ping(n, "OPERATIONAL")


def job(n):
    return model.make("print_done", origin="local", file="f", elapsed=n)


def drain(box):
    out = []
    while len(box):
        out.append(box.popleft())
    return out


def test_a_new_ping_replaces_the_undelivered_one():
    box = Outbox(10)
    box.put(ping(1))
    box.put(job(1))
    box.put(ping(2))
    assert [(r.name, r.fields.get("octoprint_uptime")) for r in drain(box)] == [
        ("print_done", None),
        ("ping", 2),
    ]
    assert box.dropped == 1


def test_when_full_the_ping_goes_first_then_the_oldest():
    box = Outbox(3)
    box.put(job(1))
    box.put(ping(1))
    box.put(job(2))
    box.put(job(3))  # full: the ping goes
    box.put(job(4))  # full, no ping: the oldest goes
    assert [r.fields["elapsed"] for r in drain(box)] == [2, 3, 4]
    assert box.dropped == 2


def test_length_and_pending_ignore_superseded_pings():
    box = Outbox(5)
    for n in range(4):
        box.put(ping(n))
    assert len(box) == 1 and [r.fields["octoprint_uptime"] for r in box.pending()] == [3]


def test_a_failed_ping_is_not_put_back_over_a_newer_one():
    box = Outbox(5)
    box.put(ping(1))
    first = box.popleft()
    box.put(ping(2))
    box.appendleft(first)
    assert [r.fields["octoprint_uptime"] for r in drain(box)] == [2]


def test_capacity_holds_under_ten_thousand_puts():
    box = Outbox(1000)
    for n in range(10_000):
        box.put(ping(n) if n % 7 == 0 else job(n))
    assert len(box) == 1000
    assert box.dropped == 10_000 - 1000


def test_superseded_pings_do_not_pile_up_in_memory():
    box = Outbox(10)
    box.put(job(1))  # stuck at the front, like a report to a dead server
    for n in range(1000):
        box.put(ping(n))
    assert len(box.items) <= 2 * box.capacity + 1
    assert len(box) == 2
