"""Each host event becomes exactly the report the bundled plugin sends, minus what
would identify the owner."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from octoprint_tracking import host
from octoprint_tracking.core import builders, catalog, model
from octoprint_tracking.core.events import build
from octoprint_tracking.core.model import HostState
from octoprint_tracking.schedule import Schedule

INSTANCE_ID = "5d2c8b1e-6a8f-4b0e-9a53-3f1e2c4d5b6a"
KEY = bytes(range(32))  # the local secret (secret.py), never sent
PATH = "prints/My Secret Benchy.gcode"
SHA = hmac.new(KEY, PATH.encode(), hashlib.sha1).hexdigest()

# Payloads as OctoPrint 1.11.8 fires them (printer/standard.py, util/comm.py, plugins).
JOB = {
    "name": "My Secret Benchy.gcode",
    "path": PATH,
    "origin": "local",
    "size": 1234,
    "owner": "alice",
    "user": "alice",
}


@pytest.fixture
def state():
    return HostState(file_key=KEY)


def fields(report):
    assert report is not None
    catalog.check_fields(report.name, report.fields)
    return report.fields


def test_print_started_sends_origin_and_salted_hash_only(state):
    report = build(state, "PrintStarted", JOB)
    assert report.name == "print_started"
    assert fields(report) == {"origin": "local", "file": SHA}


def test_print_done_adds_elapsed_seconds(state):
    report = build(state, "PrintDone", {**JOB, "time": 3725.83})
    assert report.name == "print_done"
    assert fields(report) == {"origin": "local", "file": SHA, "elapsed": 3725}


def test_print_failed_sends_reason_and_scrubbed_error(state):
    payload = {
        **JOB,
        "time": 12.5,
        "reason": "error",
        "error": "Failed on /home/pi/x.gcode",
    }
    report = build(state, "PrintFailed", payload)
    assert fields(report) == {
        "origin": "local",
        "file": SHA,
        "elapsed": 12,
        "reason": "error",
        "commerror_text": "Failed on <path>",
    }


def test_print_cancelled(state):
    report = build(state, "PrintCancelled", {**JOB, "time": 60})
    assert (report.name, fields(report)["elapsed"]) == ("print_cancelled", 60)


def test_print_report_carries_connector_when_present(state):
    report = build(state, "PrintStarted", {**JOB, "connector": "serial"})
    assert fields(report)["printer_connector"] == "serial"


def test_print_report_carries_throttle_summary_after_a_throttle_issue(state):
    build(state, "plugin_pi_support_throttle_state", THROTTLED)
    report = build(state, "PrintStarted", JOB)
    assert fields(report) == {
        "origin": "local",
        "file": SHA,
        "throttled_now": True,
        "throttled_past": True,
        "throttled_mask": "0x50005",
    }


def test_print_report_has_no_throttle_fields_on_a_healthy_pi(state):
    build(state, "plugin_pi_support_throttle_state", HEALTHY)
    assert "throttled_now" not in fields(build(state, "PrintStarted", JOB))


def test_file_hash_depends_on_the_local_key():
    a = build(HostState(file_key=b"a" * 32), "PrintStarted", JOB).fields["file"]
    b = build(HostState(file_key=b"b" * 32), "PrintStarted", JOB).fields["file"]
    assert a != b


def test_file_hash_cannot_be_recomputed_from_file_name_and_instance_id(state):
    # The server knows the id (it is in every URL) and can guess common names.
    sent = build(state, "PrintStarted", JOB).fields["file"]
    guesses = set()
    for name in (PATH, JOB["name"], "My Secret Benchy.gcode"):
        for salted in (name + INSTANCE_ID, INSTANCE_ID + name, name):
            for algorithm in ("sha1", "sha256", "md5"):
                guesses.add(hashlib.new(algorithm, salted.encode()).hexdigest())
            guesses.add(
                hmac.new(INSTANCE_ID.encode(), name.encode(), hashlib.sha1).hexdigest()
            )
    assert sent not in guesses


def test_repeated_prints_of_one_file_match_on_one_instance(state):
    first = build(state, "PrintStarted", JOB).fields["file"]
    assert build(state, "PrintDone", {**JOB, "time": 5}).fields["file"] == first


def test_commerror_is_named_for_its_reason(state):
    payload = {"error": "Too many consecutive timeouts, printer still connected and alive?",
               "reason": "timeout"}  # fmt: skip
    report = build(state, "Error", payload)
    assert report.name == "commerror_timeout"
    assert fields(report) == {"commerror_text": payload["error"]}


def test_commerror_with_a_strange_reason_is_named_other(state):
    report = build(state, "Error", {"error": "x", "reason": "../etc/passwd"})
    assert report.name == "commerror_other"


def test_commerror_text_is_capped(state):
    report = build(state, "Error", {"error": "E" * 1000, "reason": "firmware"})
    assert len(report.fields["commerror_text"]) <= 120


def test_printer_connected_waits_for_the_firmware_name(state):
    assert build(state, "Connected", {"port": "/dev/ttyACM0", "baudrate": 115200}) is None
    report = build(state, "FirmwareData", {"name": "Marlin 2.1.2", "data": {}})
    assert report.name == "printer_connected"
    assert fields(report) == {
        "firmware_name": "Marlin 2.1.2",
        "printer_port": "/dev/ttyACM0",
        "printer_baudrate": 115200,
    }


def test_printer_connected_is_sent_without_firmware_after_15_seconds(state):
    build(state, "Connected", {"port": "VIRTUAL", "baudrate": 0})
    start = state.awaiting_firmware_since()
    plan = Schedule(900, 86400)
    plan.due(start, None)  # the startup ping and pong

    def due(t):
        if "printer_connected" in plan.due(t, state.awaiting_firmware_since()):
            return builders.firmware_timeout(state)
        return None

    assert due(start + 14.9) is None
    report = due(start + 15.0)
    assert fields(report) == {"printer_port": "VIRTUAL", "printer_baudrate": 0}
    assert due(start + 30) is None


def test_printer_connected_on_octoprint_2_carries_the_connector(state):
    # OctoPrint 2.0 names the connector in Connected, as its bundled plugin sends it.
    assert (
        build(state, "Connected", {"connector": "serial", "port": "/dev/ttyACM0"}) is None
    )
    report = build(state, "FirmwareData", {"name": "Marlin 2.1.2", "data": {}})
    assert fields(report) == {
        "firmware_name": "Marlin 2.1.2",
        "printer_connector": "serial",
    }


def test_firmware_data_without_a_connect_sends_nothing(state):
    assert build(state, "FirmwareData", {"name": "Marlin"}) is None


def test_serial_number_in_a_port_name_is_not_sent(state):
    port = (
        "/dev/serial/by-id/usb-Prusa_Research_Original_Prusa_i3_MK3_CZPX1234X004XK-if00"
    )
    build(state, "Connected", {"port": port, "baudrate": 115200})
    report = build(state, "FirmwareData", {"name": "Prusa-Firmware 3.13.0"})
    assert report.fields["printer_port"] == "other"


@pytest.mark.parametrize("action", ["install", "uninstall", "enable", "disable"])
def test_plugin_events(state, action):
    report = build(
        state,
        f"plugin_pluginmanager_{action}_plugin",
        {"id": "octolapse", "version": "0.4.2"},
    )
    assert report.name == f"{action}_plugin"
    assert fields(report) == {"plugin": "octolapse", "plugin_version": "0.4.2"}


@pytest.mark.parametrize(
    "event,name",
    [
        ("plugin_softwareupdate_update_succeeded", "update_successful"),
        ("plugin_softwareupdate_update_failed", "update_failed"),
    ],
)
def test_update_events(state, event, name):
    payload = {"target": "octoprint", "from_version": "1.11.7", "to_version": "1.11.8"}
    report = build(state, event, payload)
    assert report.name == name
    assert fields(report) == payload


THROTTLED = {
    "raw_value": 0x50005,
    "current_undervoltage": True,
    "past_undervoltage": True,
    "current_overheat": False,
    "past_overheat": False,
    "current_issue": True,
    "past_issue": True,
}
HEALTHY = dict.fromkeys(THROTTLED, False) | {"raw_value": 0}


def test_system_throttled_sends_the_seven_fields(state):
    report = build(state, "plugin_pi_support_throttle_state", THROTTLED)
    assert report.name == "system_throttled"
    assert fields(report) == {
        "throttled_now": True,
        "throttled_past": True,
        "throttled_mask": "0x50005",
        "throttled_voltage_now": True,
        "throttled_voltage_past": True,
        "throttled_overheat_now": False,
        "throttled_overheat_past": False,
    }


def test_system_unthrottled(state):
    assert (
        build(state, "plugin_pi_support_throttle_state", HEALTHY).name
        == "system_unthrottled"
    )


@pytest.mark.parametrize(
    "event", ["plugin_firmware_check_warning", "plugin_printer_safety_check_warning"]
)
def test_safety_warning_from_firmware_check(state, event):
    payload = {"check_name": "aneta8", "warning_type": "firmware-unsafe", "severity": "high",
               "url": "https://faq.octoprint.org/warning-firmware-unsafe"}  # fmt: skip
    report = build(state, event, payload)
    assert fields(report) == {
        "printer_safety_warning_type": "firmware-unsafe",
        "printer_safety_check_name": "aneta8",
    }


def test_achievement_unlocked(state):
    payload = {"key": "one_small_step", "name": "One Small Step", "type": "achievement"}
    report = build(state, "plugin_achievements_achievement_unlocked", payload)
    assert fields(report) == {"achievement": "one_small_step"}


def test_slicing_started(state):
    payload = {"stl": "secret.stl", "gcode": "secret.gcode", "slicer": "prusaslicer"}
    assert fields(build(state, "SlicingStarted", payload)) == {"slicer": "prusaslicer"}


def test_unknown_event_gives_nothing(state):
    assert build(state, "ZChange", {"new": 1}) is None


def test_ping():
    report = builders.ping(5400.7, "OPERATIONAL")
    assert (report.name, fields(report)) == (
        "ping",
        {"octoprint_uptime": 5400, "printer_state": "OPERATIONAL"},
    )


ENVIRONMENT = {
    "os": {"id": "linux", "platform": "linux", "bits": 64},
    "python": {"version": "3.11.2", "pip": "24.0", "virtualenv": "/home/pi/oprint"},
    "hardware": {"cores": 4, "freq": 1800.0, "ram": 8363163648},
    "plugins": {
        "pi_support": {
            "model": "Raspberry Pi 4 Model B Rev 1.4",
            "throttle_state": "0x0",
            "octopi_version": "1.0.0",
        }
    },
}


def test_environment_fields_as_the_bundled_plugin_sends_them():
    report = model.make("startup", **builders.environment_fields(ENVIRONMENT, "1.11.8"))
    assert fields(report) == {
        "version": "1.11.8",
        "os": "linux",
        "platform": "linux",
        "bits": 64,
        "python": "3.11.2",
        "pip": "24.0",
        "cores": 4,
        "freq": 1800.0,
        "ram": 8363163648,
        "pi_model": "Raspberry Pi 4 Model B Rev 1.4",
        "octopi_version": "1.0.0",
    }


def test_webui_load_accepts_short_printable_strings_only():
    ok = {"browser_name": "Chrome", "browser_version": "131", "os_name": "Linux",
          "os_version": "x86_64"}  # fmt: skip
    assert fields(builders.webui_load(ok)) == ok
    assert builders.webui_load({**ok, "os_name": "x" * 65}) is None
    assert builders.webui_load({**ok, "os_name": "bad\nline"}) is None
    assert builders.webui_load({**ok, "os_name": 7}) is None
    assert builders.webui_load({**ok, "os_name": "bob@example.com"}) is None
    assert builders.webui_load({**ok, "os_name": "/home/bob"}) is None
    assert fields(
        builders.webui_load({**ok, "os_name": "Mac OS", "os_version": "10.15.7"})
    )
    assert builders.webui_load(None) is None


def test_features_are_booleans_never_values():
    settings = {("webcam", "webcamEnabled"): True, ("gcodeAnalysis", "runAt"): "idle",
                ("serial", "autoconnect"): "yes please"}  # fmt: skip
    out = builders.features(
        lambda paths: next((settings[p] for p in paths if p in settings), None)
    )
    assert set(out) == {name for name, _p, _m in catalog.FEATURE_SETTINGS}
    assert all(isinstance(v, bool) for v in out.values())
    assert out["feature_webcam"] and out["feature_gcode_analysis"]
    assert out["feature_timelapse"] is False


def test_spool_round_trip_keeps_reports():
    report = model.make("ping", octoprint_uptime=1, printer_state="OPERATIONAL")
    again = model.Report.from_dict(report.as_dict())
    assert again == report


@pytest.mark.parametrize(
    "foreign",
    [None, [], {"name": "ping"}, {"name": "ping", "fields": {}, "created": "x"},
     {"name": "nope", "fields": {}, "created": 1.0},
     {"name": "ping", "fields": {"path": "/home"}, "created": 1.0}],
)  # fmt: skip
def test_spool_rejects_foreign_entries(foreign):
    with pytest.raises(ValueError):
        model.Report.from_dict(foreign)


class Settings:
    """OctoPrint's settings as far as ``get(path, error_on_path=True)`` goes."""

    def __init__(self, values):
        self.values, self.read = values, []

    def get(self, path, error_on_path=False):
        self.read.append(tuple(path))
        if tuple(path) not in self.values:
            raise KeyError(path)
        return self.values[tuple(path)]


def test_a_moved_setting_is_read_at_its_new_path_where_octoprint_has_it():
    # OctoPrint 2.0: the old path still answers, through a deprecation warning.
    new = {("printerConnection", "autoconnect"): True, ("serial", "autoconnect"): False}
    settings = Settings(new)
    paths = (("printerConnection", "autoconnect"), ("serial", "autoconnect"))
    assert host._first_setting(settings, paths) is True
    assert ("serial", "autoconnect") not in settings.read


def test_a_moved_setting_is_read_at_its_old_path_on_octoprint_1():
    settings = Settings({("server", "pluginBlacklist", "enabled"): True})
    paths = (
        ("server", "pluginBlocklist", "enabled"),
        ("server", "pluginBlacklist", "enabled"),
    )
    assert host._first_setting(settings, paths) is True
