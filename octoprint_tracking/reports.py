"""Report builders: an OctoPrint event and its payload become a report, or nothing.

Pure Python: nothing here imports OctoPrint, does I/O or raises on a strange payload.
A table maps host event names to small builder functions; an event is added by adding
its catalog entry and one line to ``EVENTS``.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional

from . import catalog, privacy

#: How long after connecting the firmware may name itself before ``printer_connected``
#: is sent without a firmware name.
FIRMWARE_WAIT = 15.0

Fields = Dict[str, Any]


@dataclass
class Report:
    """One report on its way out: a catalog name and its declared fields."""

    name: str
    fields: Fields = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    """Wall-clock time of the event, to compute ``age`` and expire old reports."""

    superseded: bool = field(default=False, compare=False, repr=False)
    """Set by the outbox when a newer ping replaces this one."""

    @property
    def spec(self) -> catalog.ReportSpec:
        found = catalog.spec(self.name)
        assert found is not None, self.name
        return found

    @property
    def post(self) -> bool:
        return self.spec.post

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "fields": dict(self.fields), "created": self.created}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Report":
        """Rebuild a report from the spool; raises ValueError for anything foreign."""
        if not isinstance(data, Mapping):
            raise ValueError("not a mapping")
        name, fields, created = data.get("name"), data.get("fields"), data.get("created")
        if not isinstance(name, str) or not isinstance(fields, dict):
            raise ValueError("not a report")
        if not isinstance(created, (int, float)) or isinstance(created, bool):
            raise ValueError("no creation time")
        catalog.check_fields(name, fields)
        return cls(name, dict(fields), float(created))


def make(name: str, **fields: Any) -> Report:
    """A report with every field that has no value (None) left out."""
    return Report(name, {k: v for k, v in fields.items() if v is not None})


def _get(payload: Any, key: str) -> Any:
    # dict first: it is what OctoPrint fires, and the ABC check costs microseconds.
    if type(payload) is dict or isinstance(payload, Mapping):
        return payload.get(key)
    return None


@dataclass
class HostState:
    """What the builders remember between events."""

    salt: str = ""
    """The instance id, salt for file hashes."""

    throttle: Optional[Fields] = None
    """Throttle state from the Pi support plugin's last event, already sanitised."""

    connection: Optional[Fields] = None
    """Port and baud rate of a connection whose firmware name is still awaited."""

    connected_at: float = 0.0

    lock: threading.Lock = field(
        default_factory=threading.Lock, compare=False, repr=False
    )
    """Guards ``connection``: the firmware event (host thread) and the timeout
    (delivery worker) must not both send ``printer_connected``."""


Builder = Callable[[HostState, str, Any], Optional[Report]]


# Builders --------------------------------------------------------------------------


def _throttle_summary(state: HostState) -> Fields:
    # Only when there is or was an issue, as the bundled plugin does: a healthy Pi
    # adds nothing to a print report.
    t = state.throttle
    if not t or not (t.get("throttled_now") or t.get("throttled_past")):
        return {}
    return {k: t.get(k) for k in ("throttled_now", "throttled_past", "throttled_mask")}


_PRINT_NAMES = {
    "PrintStarted": "print_started",
    "PrintDone": "print_done",
    "PrintFailed": "print_failed",
    "PrintCancelled": "print_cancelled",
}


def print_job(state: HostState, event: str, payload: Any) -> Optional[Report]:
    name = _PRINT_NAMES[event]
    origin = _get(payload, "origin")
    fields: Fields = {
        "origin": origin if origin in ("local", "sdcard", "printer") else None,
        # The path is hashed, never sent: see privacy.hash_path.
        "file": privacy.hash_path(_get(payload, "path"), state.salt),
        "printer_connector": privacy.token(_get(payload, "connector")),
    }
    if name != "print_started":
        fields["elapsed"] = privacy.seconds(_get(payload, "time"))
    if name == "print_failed":
        fields["reason"] = privacy.reason(_get(payload, "reason") or "unknown")
        fields["commerror_text"] = privacy.scrub_text(_get(payload, "error"))
    fields.update(_throttle_summary(state))
    return make(name, **fields)


def commerror(state: HostState, event: str, payload: Any) -> Optional[Report]:
    error, reason = _get(payload, "error"), _get(payload, "reason")
    if error is None or reason is None:
        return None
    return make(
        "commerror_" + privacy.reason(reason),
        commerror_text=privacy.scrub_text(error),
        **_throttle_summary(state),
    )


def connected(state: HostState, event: str, payload: Any) -> Optional[Report]:
    # Wait for the firmware to name itself (M115), but not forever: ``due`` sends
    # the report without a firmware name after FIRMWARE_WAIT seconds.
    baudrate = _get(payload, "baudrate")
    state.connection = {
        "printer_port": privacy.scrub_port(_get(payload, "port")),
        "printer_baudrate": baudrate
        if isinstance(baudrate, int) and not isinstance(baudrate, bool)
        else None,
    }
    state.connected_at = time.monotonic()
    return None


def firmware(state: HostState, event: str, payload: Any) -> Optional[Report]:
    with state.lock:
        fields, state.connection = state.connection, None
    if fields is None:
        return None
    name = _get(payload, "name")
    return make(
        "printer_connected",
        firmware_name=privacy.scrub_text(name, cap=64) if isinstance(name, str) else None,
        **fields,
    )


def due(state: HostState, now: Optional[float] = None) -> Optional[Report]:
    """The ``printer_connected`` report whose firmware name did not come in time."""
    now = time.monotonic() if now is None else now
    with state.lock:
        if state.connection is None or now - state.connected_at < FIRMWARE_WAIT:
            return None
        fields, state.connection = state.connection, None
    return make("printer_connected", **fields)


def plugin_event(state: HostState, event: str, payload: Any) -> Optional[Report]:
    action = event.rsplit("_", 2)[-2]  # install, uninstall, enable, disable
    plugin = privacy.token(_get(payload, "id"))
    if plugin is None:
        return None
    return make(
        f"{action}_plugin",
        plugin=plugin,
        plugin_version=privacy.token(_get(payload, "version")),
    )


def update(state: HostState, event: str, payload: Any) -> Optional[Report]:
    name = "update_successful" if event.endswith("succeeded") else "update_failed"
    return make(
        name,
        target=privacy.token(_get(payload, "target")),
        from_version=privacy.token(_get(payload, "from_version")),
        to_version=privacy.token(_get(payload, "to_version")),
    )


_THROTTLE_KEYS = {
    "throttled_now": "current_issue",
    "throttled_past": "past_issue",
    "throttled_voltage_now": "current_undervoltage",
    "throttled_voltage_past": "past_undervoltage",
    "throttled_overheat_now": "current_overheat",
    "throttled_overheat_past": "past_overheat",
}


def throttle(state: HostState, event: str, payload: Any) -> Optional[Report]:
    if not isinstance(payload, Mapping):
        return None
    fields = {
        ours: privacy.flag(payload.get(theirs)) for ours, theirs in _THROTTLE_KEYS.items()
    }
    raw = payload.get("raw_value")
    if isinstance(raw, int) and not isinstance(raw, bool):
        fields["throttled_mask"] = hex(raw)
    elif isinstance(raw, str):
        fields["throttled_mask"] = privacy.token(raw)
    state.throttle = fields
    name = "system_throttled" if fields["throttled_now"] else "system_unthrottled"
    return make(name, **fields)


def safety_warning(state: HostState, event: str, payload: Any) -> Optional[Report]:
    return make(
        "printer_safety_warning",
        printer_safety_warning_type=privacy.token(_get(payload, "warning_type"))
        or "unknown",
        printer_safety_check_name=privacy.token(_get(payload, "check_name")) or "unknown",
    )


def achievement(state: HostState, event: str, payload: Any) -> Optional[Report]:
    return make(
        "achievement_unlocked",
        achievement=privacy.token(_get(payload, "key")) or "unknown",
    )


def slicing(state: HostState, event: str, payload: Any) -> Optional[Report]:
    return make(
        "slicing_started", slicer=privacy.token(_get(payload, "slicer")) or "unknown"
    )


#: Host event name -> builder.
EVENTS: Dict[str, Builder] = {
    "PrintStarted": print_job,
    "PrintDone": print_job,
    "PrintFailed": print_job,
    "PrintCancelled": print_job,
    "Error": commerror,
    "Connected": connected,
    "FirmwareData": firmware,
    "SlicingStarted": slicing,
    "plugin_pluginmanager_install_plugin": plugin_event,
    "plugin_pluginmanager_uninstall_plugin": plugin_event,
    "plugin_pluginmanager_enable_plugin": plugin_event,
    "plugin_pluginmanager_disable_plugin": plugin_event,
    "plugin_softwareupdate_update_succeeded": update,
    "plugin_softwareupdate_update_failed": update,
    "plugin_pi_support_throttle_state": throttle,
    "plugin_firmware_check_warning": safety_warning,
    "plugin_printer_safety_check_warning": safety_warning,
    "plugin_achievements_achievement_unlocked": achievement,
}


def build(state: HostState, event: Any, payload: Any) -> Optional[Report]:
    """The report for a host event, or None. Never raises for any payload."""
    builder = EVENTS.get(event) if isinstance(event, str) else None
    if builder is None:
        return None
    try:
        return builder(state, event, payload)
    except Exception:  # pragma: no cover - the builders are written not to raise
        return None


# Reports not caused by events -------------------------------------------------------


def ping(uptime: float, printer_state: Any) -> Report:
    return make(
        "ping",
        octoprint_uptime=max(0, int(uptime)),
        printer_state=privacy.token(printer_state) or "UNKNOWN",
    )


def environment_fields(environment: Any, version: str) -> Fields:
    """The environment fields of startup, shutdown and pong from OctoPrint's
    environment detection result (``on_environment_detected``)."""
    env = environment if isinstance(environment, Mapping) else {}
    os_ = _get(env, "os") or {}
    python = _get(env, "python") or {}
    hardware = _get(env, "hardware") or {}
    pi = _get(_get(env, "plugins") or {}, "pi_support") or {}

    def number(value: Any) -> Any:
        return (
            value
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else None
        )

    return {
        k: v
        for k, v in {
            "version": privacy.token(version),
            "os": privacy.token(_get(os_, "id")),
            "platform": privacy.token(_get(os_, "platform")),
            "bits": number(_get(os_, "bits")),
            "python": privacy.token(_get(python, "version")),
            "pip": privacy.token(_get(python, "pip")),
            "cores": number(_get(hardware, "cores")),
            "freq": number(_get(hardware, "freq")),
            "ram": number(_get(hardware, "ram")),
            "pi_model": privacy.scrub_text(_get(pi, "model"), cap=64),
            "octopi_version": privacy.token(_get(pi, "octopi_version")),
            "octopiuptodate_build": privacy.token(_get(pi, "octopiuptodate_build")),
        }.items()
        if v is not None
    }


def webui_load(payload: Any) -> Optional[Report]:
    """The ``webui_load`` report from the web UI's API call, or None when invalid."""
    keys = ("browser_name", "browser_version", "os_name", "os_version")
    values = {k: _get(payload, k) for k in keys}
    if not all(valid_ui_string(v) for v in values.values()):
        return None
    return make("webui_load", **values)


_UI_STRING = re.compile(r"^[\w .()+,:;-]{1,64}$")


def valid_ui_string(value: Any) -> bool:
    """At most 64 printable characters, as the API promises, and only those a browser
    or OS name and version use: no "@" or "/", so no address or path gets through."""
    return (
        isinstance(value, str) and bool(_UI_STRING.match(value)) and value.isprintable()
    )


def features(get: Callable[[tuple], Any]) -> Fields:
    """On/off of well-known settings, never their values."""
    out: Fields = {}
    for name, path, _meaning in catalog.FEATURE_SETTINGS:
        value = get(path)
        if name == "feature_gcode_analysis":
            value = value not in (None, "never")
        out[name] = bool(value)
    return out


def wire_value(value: Any) -> str:
    """How a field value is written on the wire: as the bundled plugin's urlencode."""
    return str(value)


def check(report: Report) -> Report:
    """Raise if the report carries an undeclared field (used by tests and preview)."""
    catalog.check_fields(report.name, report.fields)
    return report
