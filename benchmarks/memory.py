"""Row 4: memory growth while 10,000 reports are put against a stalled server.

The receiver hangs (accepts, never answers). Each plugin gets 10,000 events (print
started/done, plugin install, throttle state, cycled), then the growth is read:
``tracemalloc`` (Python allocations still alive after a ``gc.collect()``, the primary
figure) and the process RSS (psutil; coarse, as freed memory is not always returned).
"""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from typing import List, Tuple

import psutil

from harness.receiver import Receiver
from harness.wait import eventually

from . import common
from .common import Row

N = common.sized(10_000, 2_000)
LIMIT_MB = 5.0
GOAL = f"ours bounded, ≤ {LIMIT_MB:.0f} MB"
EVENTS = [
    ("PrintStarted", common.PRINT_STARTED),
    ("PrintDone", common.PRINT_DONE),
    ("plugin_pluginmanager_install_plugin", common.PLUGIN_INSTALL),
    ("plugin_pi_support_throttle_state", common.THROTTLE),
]
MB = 1024 * 1024


def _grow(plugin) -> Tuple[float, float, float]:
    """(tracemalloc growth, tracemalloc peak growth, RSS growth), in MB."""
    process = psutil.Process()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        rss = process.memory_info().rss
        for event, payload in itertools.islice(itertools.cycle(EVENTS), N):
            plugin.on_event(event, payload)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        rss_after = process.memory_info().rss
    finally:
        tracemalloc.stop()
    return (current - base) / MB, (peak - base) / MB, (rss_after - rss) / MB


def run() -> List[Row]:
    receiver = Receiver().start()
    try:
        ours = common.ours(receiver.url)
        eventually(lambda: ours._tracker.delivery.status()["delivered"] >= 3, 10)
        receiver.set_mode("hang")
        try:
            mine = _grow(ours)
            dropped = ours._tracker.delivery.status()["dropped"]
            queued = ours._tracker.delivery.status()["queued"]
        finally:
            common.stop_ours(ours)
            receiver.set_mode("ok")
        receiver.set_mode("hang")
        theirs_plugin = common.bundled(receiver.url)
        try:
            theirs = _grow(theirs_plugin)
            backlog = theirs_plugin._executor._work_queue.qsize()
        finally:
            common.stop_bundled(theirs_plugin)
            receiver.set_mode("ok")
    finally:
        receiver.stop()
    return [
        Row(
            "4",
            f"Memory growth, {N:,} reports to a stalled server, tracemalloc (MB)",
            f"{mine[0]:.2f} MB (peak {mine[1]:.2f}; {queued} queued, {dropped} dropped)",
            f"{theirs[0]:.2f} MB (peak {theirs[1]:.2f}; {backlog:,} queued)",
            common.ratio(mine[0], theirs[0]),
            GOAL,
            mine[0] <= LIMIT_MB,
        ),
        Row(
            "4",
            f"Memory growth, {N:,} reports to a stalled server, RSS (MB)",
            f"{mine[2]:.1f} MB",
            f"{theirs[2]:.1f} MB",
            common.ratio(mine[2], theirs[2]) if theirs[2] > 0.5 else "n/a",
            "(info)",
            None,
        ),
    ]
