"""The plugin on every OctoPrint an owner may run: 1.10, 1.11 and the 2.0 release
candidate, each a real ``octoprint serve`` from its own virtual environment with the
plugin installed from its built archive (``make test-compat``)."""

from __future__ import annotations

import subprocess

import pytest

from tests.compat.scenario import BUNDLED_ID

pytestmark = pytest.mark.e2e

REPORTS = ("startup", "ping", "pong", "printer_connected", "print_started", "print_done")


def major(version: str) -> int:
    return int(version.split(".")[0])


def test_loads_as_usage_tracking(ours, version, python):
    listed = {p["key"]: p for p in ours.plugins}
    assert "usage_tracking" in listed, sorted(listed)
    assert listed["usage_tracking"]["enabled"] is True
    assert listed["usage_tracking"]["bundled"] is False
    assert ours.index_status == 200
    startup = ours.hits("startup")
    assert startup, ours.receiver.events()
    assert startup[0].fields["version"] == version
    # The row's own Python (3.9 for the oldest OctoPrint where the machine has one).
    running = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert startup[0].fields["python"] == running


def test_wizard_is_required_while_undecided_and_nothing_is_sent(ours):
    status = ours.before_decision
    assert status["enabled"] is None, status
    assert status["wizard_required"] is True, status
    assert ours.wizard["usage_tracking"]["required"] is True, ours.wizard[
        "usage_tracking"
    ]
    assert ours.attempts_before_decision == 0


def test_startup_ping_pong_and_a_print_are_reported(ours):
    assert ours.decide_status == 200
    assert ours.print_status == 201
    assert ours.problems == []
    events = ours.receiver.events()
    for report in REPORTS + ("shutdown",):
        assert report in events, (report, events)
    assert len({h.instance for h in ours.hits()}) == 1
    assert all("UsageTracking/" in h.headers["User-Agent"] for h in ours.hits())


def test_printer_connected_names_the_connector_on_2_and_the_port_on_1(ours, version):
    (connected, *_) = ours.hits("printer_connected") or [None]
    assert connected is not None, ours.receiver.events()
    assert connected.fields["firmware_name"].startswith("Virtual Marlin")
    if major(version) >= 2:
        # As 2.0's bundled plugin does (the Virtual Printer is a serial connection).
        assert connected.fields.get("printer_connector") == "serial", connected.fields
    else:
        assert connected.fields["printer_port"] == "VIRTUAL", connected.fields
        assert "printer_connector" not in connected.fields


def test_the_bundled_plugin_is_taken_over_and_sends_nothing(ours, baseline):
    # Without ours the bundled plugin does send to this receiver under its id, so its
    # silence below is the takeover, not a wrong address.
    assert {h.instance for h in baseline.hits()} == {BUNDLED_ID}
    assert ours.before_decision["took_over_bundled"] is True
    assert ours.bundled_switch_status == 200
    assert BUNDLED_ID not in {h.instance for h in ours.hits()}
    assert "tracking" in ours.server.config["plugins"]["_disabled"]


def test_no_deprecation_warning_that_octoprint_does_not_log_without_us(ours, baseline):
    assert baseline.index_status == 200 and baseline.problems == []
    ours_only = [line for line in ours.deprecations if line not in baseline.deprecations]
    assert ours_only == [], "\n".join(ours_only)


def test_instance_id_and_server_stay_out_of_octoprint_log(ours):
    unique_id = ours.server.config["plugins"]["usage_tracking"]["unique_id"]
    assert unique_id and unique_id not in ours.log
    assert f"127.0.0.1:{ours.receiver.port}" not in ours.log
