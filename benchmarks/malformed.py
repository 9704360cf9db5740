"""Row 5: share of malformed payloads that make ``on_event`` raise.

A seeded generator makes 2,000 (event, payload) pairs over the events both plugins
handle: dicts with all, some or none of the expected keys (with values of any type),
lists, None, strings, integers, floats and bytes. Each plugin gets the same pairs; an
exception escaping ``on_event`` counts (in OctoPrint it lands in the event manager's
log, and the report is lost). For ours, the number of payloads its own safety net had
to catch (logged at debug) is shown too.
"""

from __future__ import annotations

import logging
import random
from typing import Any, List, Tuple

from . import common
from .common import Row
from .tls import CountingServer

N = common.sized(2000, 200)
SEED = 20241125
GOAL = "ours 0"

EVENTS = [
    "PrintStarted", "PrintDone", "PrintFailed", "PrintCancelled", "Error", "Connected",
    "FirmwareData", "SlicingStarted",
    "plugin_pluginmanager_install_plugin", "plugin_pluginmanager_uninstall_plugin",
    "plugin_pluginmanager_enable_plugin", "plugin_pluginmanager_disable_plugin",
    "plugin_softwareupdate_update_succeeded", "plugin_softwareupdate_update_failed",
    "plugin_pi_support_throttle_state", "plugin_printer_safety_check_warning",
    "plugin_achievements_achievement_unlocked",
]  # fmt: skip
KEYS = [
    "path", "origin", "time", "reason", "error", "port", "baudrate", "name", "id",
    "version", "target", "from_version", "to_version", "raw_value", "current_issue",
    "past_issue", "current_undervoltage", "past_undervoltage", "current_overheat",
    "past_overheat", "key", "slicer", "warning_type", "check_name", "connector",
]  # fmt: skip


def _scalar(rng: random.Random) -> Any:
    kind = rng.randrange(8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**40), 2**40)
    if kind == 3:
        return rng.choice([0.0, -1.5, 1e308, float("nan"), float("inf"), 3725.83])
    if kind == 4:
        return "".join(rng.choice("abc/.\\\x00é🙂 %{}") for _ in range(rng.randrange(20)))
    if kind == 5:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(12)))
    if kind == 6:
        return "local"
    return "/dev/ttyUSB0"


def _value(rng: random.Random, depth: int = 0) -> Any:
    if depth < 2 and rng.random() < 0.2:
        if rng.random() < 0.5:
            return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
        return {_scalar(rng) if rng.random() < 0.3 else rng.choice(KEYS):
                _value(rng, depth + 1) for _ in range(rng.randrange(4))}  # fmt: skip
    return _scalar(rng)


def payload(rng: random.Random) -> Any:
    kind = rng.randrange(10)
    if kind <= 2:  # every expected key, values of any type
        return {k: _value(rng) for k in KEYS}
    if kind <= 4:  # some expected keys
        return {k: _value(rng) for k in rng.sample(KEYS, rng.randrange(1, 6))}
    if kind == 5:  # no expected key
        return {str(_scalar(rng)): _value(rng) for _ in range(rng.randrange(4))}
    if kind == 6:
        return [_value(rng) for _ in range(rng.randrange(4))]
    if kind == 7:
        return None
    return _scalar(rng)


def cases(n: int = N, seed: int = SEED) -> List[Tuple[str, Any]]:
    rng = random.Random(seed)
    return [(rng.choice(EVENTS), payload(rng)) for _ in range(n)]


class _Count(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.caught = 0

    def emit(self, record):
        if record.exc_info:
            self.caught += 1


def _raised(plugin, pairs) -> int:
    raised = 0
    for event, data in pairs:
        try:
            plugin.on_event(event, data)
        except Exception:
            raised += 1
    return raised


def run() -> List[Row]:
    server = CountingServer().start()
    pairs = cases()
    try:
        ours = common.ours(server.url)
        counter = _Count()
        ours._logger.addHandler(counter)
        ours._logger.setLevel(logging.DEBUG)
        try:
            mine = _raised(ours, pairs)
        finally:
            ours._logger.setLevel(logging.INFO)
            common.stop_ours(ours)
        theirs_plugin = common.bundled(server.url)
        try:
            theirs = _raised(theirs_plugin, pairs)
        finally:
            common.stop_bundled(theirs_plugin)
    finally:
        server.stop()
    return [
        Row(
            "5",
            f"Malformed payloads raising from on_event ({N:,}, seed {SEED})",
            f"{mine / N:.1%} ({mine}; {counter.caught} caught by its safety net)",
            f"{theirs / N:.1%} ({theirs})",
            "n/a" if not theirs else common.ratio(mine, theirs),
            GOAL,
            mine == 0,
        )
    ]
