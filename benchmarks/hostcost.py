"""Row 1: what an event costs the thread that delivers it (OctoPrint's event thread).

Each plugin gets the same events, paced a little apart so that its delivery thread
runs concurrently (as it would in OctoPrint), against a loopback receiver answering
200. ``N`` stays below our outbox's capacity (1000), and both queues are emptied
between cases: this row is the cost while the server answers. What is timed is the call the host makes:

- print, plugin and throttle: ``plugin.on_event(event, payload)``;
- ping: both plugins produce pings on a timer, not from an event. For the bundled
  plugin the timer calls ``_track_ping()`` (on a RepeatedTimer thread); ours builds
  it on its tracker's RepeatedTimer thread, so the equivalent timed here is
  ``tracker.queue(tracker.ping_report())`` without the timer's bookkeeping.
"""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List

from harness.wait import eventually

from . import common
from .common import Row
from .tls import CountingServer

N = common.sized(900, 100)
WARMUP = common.sized(50, 10)
PAUSE = 0.0005
GOAL = "ours ≤ 0.1× bundled (median and p99)"

CASES = [
    ("ping", None),
    (
        "print (PrintStarted/PrintDone)",
        [("PrintStarted", common.PRINT_STARTED), ("PrintDone", common.PRINT_DONE)],
    ),
    ("plugin (install_plugin)", [("plugin_pluginmanager_install_plugin",
                                  common.PLUGIN_INSTALL)]),
    ("throttle (pi_support)", [("plugin_pi_support_throttle_state", common.THROTTLE)]),
]  # fmt: skip


def sample(call: Callable[[], None], n: int = N) -> List[float]:
    """Microseconds per call, after a warm-up."""
    out = []
    clock = time.perf_counter_ns
    for i in range(WARMUP + n):
        start = clock()
        call()
        elapsed = clock() - start
        if i >= WARMUP:
            out.append(elapsed / 1000)
        time.sleep(PAUSE)
    return out


def _caller(plugin, events, ping: Callable[[], None]) -> Callable[[], None]:
    if events is None:
        return ping
    cycle = itertools.cycle(events)

    def call():
        event, payload = next(cycle)
        plugin.on_event(event, payload)

    return call


def run() -> List[Row]:
    receiver = CountingServer().start()
    ours = common.ours(receiver.url)
    theirs = common.bundled(receiver.url)
    rows = []
    try:
        for index, (label, events) in enumerate(CASES):
            sent = receiver.sent_by(common.OURS_ID), receiver.sent_by(common.BUNDLED_ID)
            ours_us = sample(
                _caller(
                    ours, events, lambda: ours._tracker.queue(ours._tracker.ping_report())
                )
            )
            theirs_us = sample(_caller(theirs, events, theirs._track_ping))
            # Both must really have sent something, or the row timed a no-op.
            for who, before in zip((common.OURS_ID, common.BUNDLED_ID), sent):
                eventually(
                    lambda w=who, b=before: receiver.sent_by(w) > b,
                    timeout=10,
                    what=f"something arriving from {who} for {label}",
                )
            # Drop both backlogs between cases, so each starts equal (a full outbox
            # is row 4's subject, not this one's).
            ours._tracker.delivery.purge()
            common.stop_bundled(theirs)
            theirs._executor = ThreadPoolExecutor(max_workers=1)
            for stat, fn in (("median", common.median), ("p99", _p99)):
                a, b = fn(ours_us), fn(theirs_us)
                rows.append(
                    Row(
                        f"1{'abcd'[index]}",
                        f"Host-thread cost, {label}, {stat} (µs)",
                        common.fmt(a, digits=1),
                        common.fmt(b, digits=1),
                        common.ratio(a, b),
                        GOAL,
                        a <= 0.1 * b,
                    )
                )
    finally:
        common.stop_ours(ours)
        common.stop_bundled(theirs)
        receiver.stop()
    return rows


def _p99(values):
    return common.percentile(values, 99)
