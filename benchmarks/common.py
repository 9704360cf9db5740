"""Shared pieces: the environment, plugin factories, statistics and the result rows."""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from octoprint.events import Events
from octoprint.plugins.tracking import TrackingPlugin

import octoprint_tracking
from harness import plugin as support
from octoprint_tracking.core import catalog
from octoprint_tracking.settings import KILL_SWITCHES

OURS = "usage_tracking"
BUNDLED = "tracking"
OURS_ID = "5f4dcc3b-5aa7-4a1c-9b0d-0123456789ab"
BUNDLED_ID = "0d1b4c3e-2a7f-4b8e-a1c2-fedcba987654"

#: What ``on_environment_detected`` hands both plugins (a Raspberry Pi-like host).
ENVIRONMENT: Dict[str, Any] = {
    "os": {"id": "linux", "platform": "linux", "bits": 64},
    "python": {"version": "3.11.2", "pip": "24.0", "virtualenv": True},
    "hardware": {"cores": 4, "freq": 1800.0, "ram": 4 * 1024**3},
    "plugins": {"pi_support": {"model": "Raspberry Pi 4 Model B Rev 1.4"}},
}

#: Realistic payloads of OctoPrint 1.11 events.
PRINT_STARTED = {
    "name": "3DBenchy_PLA_0.2mm.gcode",
    "path": "calibration/3DBenchy_PLA_0.2mm.gcode",
    "origin": "local",
    "size": 4821733,
    "owner": "admin",
    "user": "admin",
}
PRINT_DONE = {**PRINT_STARTED, "time": 5423.716}
PLUGIN_INSTALL = {
    "id": "octolapse",
    "version": "0.4.2",
    "source": "https://github.com/FormerLurker/Octolapse/archive/master.zip",
    "source_type": "url",
    "from_repo": True,
}
THROTTLE = {
    "current_undervoltage": False,
    "past_undervoltage": True,
    "current_overheat": False,
    "past_overheat": False,
    "current_issue": False,
    "past_issue": True,
    "raw_value": 0x50000,
}

_tmp_root: Optional[Path] = None

# A smoke run (``--smoke``, CI) runs every row with the same code at a small size:
# it proves that each row still runs and produces its figures, not that a goal is
# met. The row modules read their sizes through ``sized`` when they are imported,
# so the mode is set before that (``set_smoke``) and cannot change afterwards.
_smoke = False
_sizes_read = False


def set_smoke(on: bool) -> None:
    global _smoke
    if _sizes_read and on != _smoke:
        raise RuntimeError("set_smoke() after a row module has read its sizes")
    _smoke = on


def sized(full: Any, small: Any) -> Any:
    """A row's size: ``full``, or ``small`` in a smoke run."""
    global _sizes_read
    _sizes_read = True
    return small if _smoke else full


def scratch(name: str) -> Path:
    """A fresh folder below the run's temporary directory."""
    global _tmp_root
    if _tmp_root is None:
        _tmp_root = Path(tempfile.mkdtemp(prefix="usage-tracking-bench-"))
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=_tmp_root))


def clean_environment() -> None:
    """Remove the kill switches (CI sets CI=true); both plugins would send nothing."""
    for name in KILL_SWITCHES:
        os.environ.pop(name, None)


#: Custom events that OctoPrint registers at startup from plugins' hooks
#: (``octoprint.events.register_custom_events``). The bundled plugin only handles an
#: event whose ``Events`` attribute exists, so outside a server they must be added.
CUSTOM_EVENTS = {
    "pluginmanager": ["install_plugin", "uninstall_plugin", "enable_plugin",
                      "disable_plugin"],
    "softwareupdate": ["update_succeeded", "update_failed"],
    "pi_support": ["throttle_state"],
    "achievements": ["achievement_unlocked"],
    "printer_safety_check": ["warning"],
}  # fmt: skip


def register_custom_events() -> None:
    for plugin, names in CUSTOM_EVENTS.items():
        for name in names:
            Events.register_event(name, prefix=f"plugin_{plugin}_")


def prepare() -> None:
    """Process-wide setup before any row: kill switches off, custom events known."""
    clean_environment()
    register_custom_events()


def quiet_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(f"benchmarks.{name}")
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.INFO)
    return logger


def _build(cls, identifier: str, values: Dict[str, Any]):
    """``harness.plugin.build`` and then the values, through the plugin's own
    ``PluginSettings`` (``Settings.set`` without the plugin's defaults ignores a path
    that exists neither in the defaults nor in config.yaml), then ``initialize()``."""
    plugin = support.build(
        cls, identifier, scratch(identifier), logger=quiet_logger(identifier),
        initialize=False,
    )  # fmt: skip
    for key, value in values.items():
        plugin._settings.set([key], value, force=True)
    plugin.initialize()
    plugin.on_environment_detected(ENVIRONMENT)
    return plugin


def ours(server: str, delivery: Optional[Dict[str, Any]] = None, start: bool = True):
    """Our plugin, enabled with the current consent, started as OctoPrint would."""
    values = {
        "enabled": True,
        "consent_version": catalog.CONSENT_VERSION,
        "unique_id": OURS_ID,
        "server": server,
        "ping": 900,
        "pong": 86400,
    }
    if delivery:
        values["delivery"] = delivery
    plugin = _build(octoprint_tracking.UsageTrackingPlugin, OURS, values)
    if not plugin._tracker.config.active or plugin._tracker.target is None:
        raise RuntimeError(f"our plugin is not active: {plugin.status()}")
    if start:
        plugin.on_after_startup()
    return plugin


def bundled(server: str):
    """The bundled plugin, enabled. Its timers are not started (their first ping and
    pong would only add noise); its executor is what ``_track`` submits to."""
    plugin = _build(
        TrackingPlugin,
        BUNDLED,
        {
            "enabled": True,
            "unique_id": BUNDLED_ID,
            "server": server,
        },
    )
    if (
        not plugin._settings.get_boolean(["enabled"])
        or plugin._settings.get(["server"]) != server
    ):
        raise RuntimeError("the bundled plugin is not enabled")
    return plugin


def stop_ours(plugin) -> None:
    """End our worker quickly (used between rows, not measured)."""
    if plugin._timer is not None:
        plugin._timer.cancel()
    if plugin._tracker is not None:
        plugin._tracker.delivery.shutdown(deadline=0.2)


def stop_bundled(plugin) -> None:
    """Drop the bundled plugin's backlog so that it does not load later rows."""
    plugin._executor.shutdown(wait=False, cancel_futures=True)


def reports_stored(store: Any) -> int:
    """Reports acknowledged into a collector store: its per-day report counters,
    written in the same transaction as the reports."""
    return sum(n for day in store.ingest_counts().values() for n in day.values())


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Row:
    """One line of the result table."""

    number: str
    metric: str
    ours: str
    bundled: str = "n/a"
    ratio: str = "n/a"
    goal: str = ""
    met: Optional[bool] = None
    #: The row (or one of its cases) did not run: no figures, the run fails.
    error: bool = False


def ratio(ours_value: Optional[float], bundled_value: Optional[float]) -> str:
    """``ours / bundled`` with three significant digits, or n/a."""
    if ours_value is None or bundled_value is None or bundled_value == 0:
        return "n/a"
    value = ours_value / bundled_value
    return f"{value:.3g}×" if value < 10 else f"{value:.0f}×"


def fmt(value: Optional[float], unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{(' ' + unit) if unit else ''}"


def failed(number: str, metric: str, exc: BaseException, goal: str = "") -> List[Row]:
    """The line of a row (or case) that raised ``exc``; its traceback goes to stderr,
    and the run exits non-zero."""
    print(f"row {number} failed: {metric}", file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    text = f"error: {type(exc).__name__}: {exc}"[:120]
    return [Row(number, metric, text, text, "n/a", goal, False, error=True)]
