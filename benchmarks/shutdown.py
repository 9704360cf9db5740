"""Row 3: how long ``on_shutdown()`` takes with reports queued to a server that hangs.

The receiver (``harness.receiver``, mode "hang") accepts connections and never
answers. Each plugin gets ``n`` plugin-install reports queued, then ``on_shutdown()``
is timed. Ours flushes for at most its 2 s deadline and spools the rest; the bundled
plugin waits for every queued request's 3.05 s timeout (``executor.shutdown(wait=True)``).
The bundled plugin is measured for the smallest size only, in a thread, with a cap;
for the larger sizes its time is extrapolated from the measured time per request.
"""

from __future__ import annotations

import threading
import time
from typing import List, Optional

from harness.receiver import Receiver
from harness.wait import eventually

from . import common
from .common import Row

# The bundled plugin runs for the first size only (3.05 s per queued report).
SIZES = common.sized((5, 50, 500), (1, 3))
CAP = 20.0
EVENT = "plugin_pluginmanager_install_plugin"
GOAL = "ours ≤ 2 s"


def _queue(plugin, n: int) -> None:
    for _ in range(n):
        plugin.on_event(EVENT, common.PLUGIN_INSTALL)
    time.sleep(0.2)  # let the worker pick the first one up and hang on it


def _ours(receiver: Receiver, n: int):
    receiver.set_mode("ok")
    plugin = common.ours(receiver.url)
    eventually(lambda: plugin._tracker.delivery.status()["delivered"] >= 3, 10)
    receiver.set_mode("hang")
    try:
        _queue(plugin, n)
        start = time.perf_counter()
        plugin.on_shutdown()
        elapsed = time.perf_counter() - start
        return elapsed, plugin._tracker.delivery.status()["spooled"]
    finally:
        receiver.set_mode("ok")


def _bundled(receiver: Receiver, n: int) -> Optional[float]:
    """Seconds, or None when the cap was reached."""
    receiver.set_mode("hang")
    plugin = common.bundled(receiver.url)
    _queue(plugin, n)
    start = time.perf_counter()
    thread = threading.Thread(target=plugin.on_shutdown, daemon=True)
    thread.start()
    thread.join(CAP)
    elapsed = time.perf_counter() - start
    done = not thread.is_alive()
    # Never leave a worker behind: Python joins executor threads at exit.
    common.stop_bundled(plugin)
    receiver.set_mode("ok")
    return elapsed if done else None


def run() -> List[Row]:
    receiver = Receiver().start()
    rows = []
    try:
        per_request: Optional[float] = None
        for n in SIZES:
            ours_s, spooled = _ours(receiver, n)
            if per_request is None:
                theirs_s = _bundled(receiver, n)
                if theirs_s is not None:
                    # n queued (one of them already in flight) plus the shutdown report
                    per_request = theirs_s / (n + 1)
                    theirs_text = common.fmt(theirs_s, "s", 1)
                    ratio = common.ratio(ours_s, theirs_s)
                else:
                    theirs_text = f"> {CAP:.0f} s (cap)"
                    ratio = f"< {ours_s / CAP:.2g}×"
            else:
                estimate = per_request * (n + 1)
                theirs_text = f"> {CAP:.0f} s (not run; est. {estimate:,.0f} s)"
                ratio = f"≈ {ours_s / estimate:.2g}×"
            rows.append(
                Row(
                    "3",
                    f"Shutdown with {n} queued, server hangs (s)",
                    f"{ours_s:.2f} s ({spooled} spooled)",
                    theirs_text,
                    ratio,
                    GOAL,
                    ours_s <= 2.0,
                )
            )
    finally:
        receiver.stop()
    return rows
