"""Row 6: a real ``octoprint serve``: resident memory and time to "server started".

Three configurations, each in a fresh basedir (``harness.octoprint``), with a
loopback receiver answering 200:

- ours: ours enabled and pointing at the receiver; the bundled plugin in
  ``plugins._disabled`` (where ours puts it on its first start: the steady state);
- bundled: ours in ``plugins._disabled``, the bundled one enabled, same receiver;
- off: both in ``plugins._disabled``.

Startup time is from ``Popen`` until the API answers and "Listening on" is in the log.
RSS (psutil, the server process and its children) is read after the startup report
has arrived and a further settle time. One unmeasured start warms the file cache.
"""

from __future__ import annotations

import os
import time
from typing import Dict, List

import psutil

from harness.octoprint import OctoPrint, make_basedir
from harness.receiver import Receiver

from . import common
from .common import Row

REPEAT = int(os.environ.get("BENCH_SERVE_REPEAT", common.sized(3, 1)))
WARMUP = common.sized(1, 0)  # unmeasured starts that warm the file cache
SETTLE = common.sized(5.0, 1.0)
MB = 1024 * 1024
#: Run-to-run noise allowed when comparing what each plugin adds to "off".
RSS_NOISE_MB = 1.0
TIME_NOISE_S = 0.25
GOAL = "ours adds ≤ what the bundled adds (+{} noise)"


def _configs(receiver: Receiver) -> Dict[str, dict]:
    return {
        "off": {"plugins": {"_disabled": ["usage_tracking", "tracking"]}},
        "bundled": {
            "plugins": {
                "_disabled": ["usage_tracking"],
                "tracking": {
                    "enabled": True,
                    "unique_id": common.BUNDLED_ID,
                    "server": receiver.url,
                },
            }
        },
        "ours": {
            "plugins": {
                "_disabled": ["tracking"],
                "usage_tracking": {
                    "enabled": True,
                    "consent_version": 2,
                    "unique_id": common.OURS_ID,
                },
            }
        },
    }


def _rss(pid: int) -> int:
    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total


def _start(name: str, config: dict, receiver: Receiver, tracking: bool):
    basedir = make_basedir(common.scratch(f"serve-{name}") / "basedir", with_users=False)
    server = OctoPrint(basedir, receiver.url, config=config)
    before = len(receiver.hits)
    start = time.perf_counter()
    server.start(timeout=120)
    started = time.perf_counter() - start
    try:
        if tracking:
            receiver.wait_for(
                lambda hits: any(h.event == "startup" for h in hits[before:]), 60
            )
        time.sleep(SETTLE)
        rss = _rss(server.process.pid)
    finally:
        server.stop()
    return started, rss


def run() -> List[Row]:
    receiver = Receiver().start()
    results: Dict[str, List[tuple]] = {"off": [], "bundled": [], "ours": []}
    try:
        configs = _configs(receiver)
        for _ in range(WARMUP):
            _start("warmup", configs["off"], receiver, False)
        for _ in range(REPEAT):
            for name in ("off", "bundled", "ours"):
                results[name].append(_start(name, configs[name], receiver, name != "off"))
    finally:
        receiver.stop()

    def med(name, index):
        return common.median([r[index] for r in results[name]])

    off_t, off_m = med("off", 0), med("off", 1) / MB
    ours_t, ours_m = med("ours", 0), med("ours", 1) / MB
    theirs_t, theirs_m = med("bundled", 0), med("bundled", 1) / MB
    runs = f"{REPEAT} run{'s' if REPEAT > 1 else ''} each, median"
    return [
        Row(
            "6",
            f"octoprint serve RSS after startup (MB; tracking off: {off_m:.1f}; {runs})",
            f"{ours_m:.1f} ({ours_m - off_m:+.1f})",
            f"{theirs_m:.1f} ({theirs_m - off_m:+.1f})",
            common.ratio(ours_m - off_m, theirs_m - off_m)
            if theirs_m - off_m > 0.5
            else "n/a",
            GOAL.format(f"{RSS_NOISE_MB:g} MB"),
            ours_m - off_m <= max(0.0, theirs_m - off_m) + RSS_NOISE_MB,
        ),
        Row(
            "6",
            f"octoprint serve time to server started (s; tracking off: {off_t:.2f})",
            f"{ours_t:.2f} ({ours_t - off_t:+.2f})",
            f"{theirs_t:.2f} ({theirs_t - off_t:+.2f})",
            "n/a",
            GOAL.format(f"{TIME_NOISE_S:g} s"),
            ours_t - off_t <= max(0.0, theirs_t - off_t) + TIME_NOISE_S,
        ),
    ]
