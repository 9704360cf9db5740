"""Report builders: small functions that turn a host event's payload into a report.

Pure Python: nothing here imports OctoPrint, does I/O or raises on a strange payload.
Each builder gets the report name from the events table (``events.EVENTS``).
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Mapping, Optional, Tuple

from . import catalog, privacy
from .model import Fields, HostState, Report, make


def _get(payload: Any, key: str) -> Any:
    # dict first: it is what OctoPrint fires, and the ABC check costs microseconds.
    if type(payload) is dict or isinstance(payload, Mapping):
        return payload.get(key)
    return None


# Builders --------------------------------------------------------------------------


def _throttle_summary(state: HostState) -> Fields:
    # Only when there is or was an issue, as the bundled plugin does: a healthy Pi
    # adds nothing to a print report.
    t = state.throttle
    if not t or not (t.get("throttled_now") or t.get("throttled_past")):
        return {}
    return {k: t.get(k) for k in ("throttled_now", "throttled_past", "throttled_mask")}


def print_job(state: HostState, name: str, payload: Any) -> Optional[Report]:
    origin = _get(payload, "origin")
    fields: Fields = {
        "origin": origin if origin in ("local", "sdcard", "printer") else None,
        # The path is hashed, never sent: see privacy.hash_path.
        "file": privacy.hash_path(_get(payload, "path"), state.file_key),
        "printer_connector": privacy.token(_get(payload, "connector")),
    }
    if name != "print_started":
        fields["elapsed"] = privacy.seconds(_get(payload, "time"))
    if name == "print_failed":
        fields["reason"] = privacy.reason(_get(payload, "reason") or "unknown")
        fields["commerror_text"] = privacy.scrub_text(_get(payload, "error"))
    fields.update(_throttle_summary(state))
    return make(name, **fields)


def commerror(state: HostState, name: str, payload: Any) -> Optional[Report]:
    error, reason = _get(payload, "error"), _get(payload, "reason")
    if error is None or reason is None:
        return None
    return make(
        name.replace("<reason>", privacy.reason(reason)),
        commerror_text=privacy.scrub_text(error),
        **_throttle_summary(state),
    )


def connected(state: HostState, name: str, payload: Any) -> Optional[Report]:
    # Wait for the firmware to name itself (M115), but not forever: the schedule
    # has ``firmware_timeout`` send it without a firmware name after FIRMWARE_WAIT.
    # OctoPrint 2.0 names the kind of connection (``connector``), as its bundled
    # plugin sends it; 1.x has a serial port and baud rate.
    if _get(payload, "connector") is not None:
        fields = {"printer_connector": privacy.token(_get(payload, "connector"))}
    else:
        baudrate = _get(payload, "baudrate")
        fields = {
            "printer_port": privacy.scrub_port(_get(payload, "port")),
            "printer_baudrate": baudrate
            if isinstance(baudrate, int) and not isinstance(baudrate, bool)
            else None,
        }
    state.connection = fields
    state.connected_at = time.monotonic()
    return None


def firmware(state: HostState, name: str, payload: Any) -> Optional[Report]:
    with state.lock:
        fields, state.connection = state.connection, None
    if fields is None:
        return None
    firmware_name = _get(payload, "name")
    return make(
        name,
        firmware_name=privacy.scrub_text(firmware_name, cap=64)
        if isinstance(firmware_name, str)
        else None,
        **fields,
    )


def firmware_timeout(state: HostState) -> Optional[Report]:
    """The ``printer_connected`` report whose firmware name did not come in time
    (``schedule`` says when)."""
    with state.lock:
        fields, state.connection = state.connection, None
    return make("printer_connected", **fields) if fields is not None else None


def plugin_event(state: HostState, name: str, payload: Any) -> Optional[Report]:
    plugin = privacy.token(_get(payload, "id"))
    if plugin is None:
        return None
    return make(
        name,
        plugin=plugin,
        plugin_version=privacy.token(_get(payload, "version")),
    )


def update(state: HostState, name: str, payload: Any) -> Optional[Report]:
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


def throttle(state: HostState, name: str, payload: Any) -> Optional[Report]:
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
    # The one report whose name depends on the payload: the table names both.
    throttled, unthrottled = name.split("|")
    return make(throttled if fields["throttled_now"] else unthrottled, **fields)


def safety_warning(state: HostState, name: str, payload: Any) -> Optional[Report]:
    return make(
        name,
        printer_safety_warning_type=privacy.token(_get(payload, "warning_type"))
        or "unknown",
        printer_safety_check_name=privacy.token(_get(payload, "check_name")) or "unknown",
    )


def achievement(state: HostState, name: str, payload: Any) -> Optional[Report]:
    return make(
        name,
        achievement=privacy.token(_get(payload, "key")) or "unknown",
    )


def slicing(state: HostState, name: str, payload: Any) -> Optional[Report]:
    return make(name, slicer=privacy.token(_get(payload, "slicer")) or "unknown")


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


def features(get: Callable[[Tuple[Tuple[str, ...], ...]], Any]) -> Fields:
    """On/off of well-known settings, never their values. ``get`` reads the first of
    a setting's paths that the running OctoPrint has."""
    out: Fields = {}
    for name, paths, _meaning in catalog.FEATURE_SETTINGS:
        value = get(paths)
        if name == "feature_gcode_analysis":
            value = value not in (None, "never")
        out[name] = bool(value)
    return out
