"""The events table: which host event becomes which report, through which builder.

An event is added by adding its report to the catalog and one line here. The report
name is written in this table only; builders take it from here.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from . import builders
from .model import HostState, Report

Builder = Callable[[HostState, str, Any], Optional[Report]]

#: Host event name -> (report name, builder). ``commerror_<reason>`` is filled in
#: from the payload; the throttle event names both of its reports.
EVENTS: Dict[str, Tuple[str, Builder]] = {
    "PrintStarted": ("print_started", builders.print_job),
    "PrintDone": ("print_done", builders.print_job),
    "PrintFailed": ("print_failed", builders.print_job),
    "PrintCancelled": ("print_cancelled", builders.print_job),
    "Error": ("commerror_<reason>", builders.commerror),
    "Connected": ("printer_connected", builders.connected),
    "FirmwareData": ("printer_connected", builders.firmware),
    "SlicingStarted": ("slicing_started", builders.slicing),
    "plugin_pluginmanager_install_plugin": ("install_plugin", builders.plugin_event),
    "plugin_pluginmanager_uninstall_plugin": ("uninstall_plugin", builders.plugin_event),
    "plugin_pluginmanager_enable_plugin": ("enable_plugin", builders.plugin_event),
    "plugin_pluginmanager_disable_plugin": ("disable_plugin", builders.plugin_event),
    "plugin_softwareupdate_update_succeeded": ("update_successful", builders.update),
    "plugin_softwareupdate_update_failed": ("update_failed", builders.update),
    "plugin_pi_support_throttle_state": (
        "system_throttled|system_unthrottled",
        builders.throttle,
    ),
    "plugin_firmware_check_warning": ("printer_safety_warning", builders.safety_warning),
    "plugin_printer_safety_check_warning": (
        "printer_safety_warning",
        builders.safety_warning,
    ),
    "plugin_achievements_achievement_unlocked": (
        "achievement_unlocked",
        builders.achievement,
    ),
}


def build(state: HostState, event: Any, payload: Any) -> Optional[Report]:
    """The report for a host event, or None. Never raises for any payload."""
    entry = EVENTS.get(event) if isinstance(event, str) else None
    if entry is None:
        return None
    name, builder = entry
    try:
        return builder(state, name, payload)
    except Exception:  # pragma: no cover - the builders are written not to raise
        return None
