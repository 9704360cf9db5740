"""The plugin inside a real ``octoprint serve`` (1.11.8) against a loopback receiver."""

from __future__ import annotations

import signal

import pytest

pytestmark = pytest.mark.e2e

ENABLED = {"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2}}}
OURS = "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516"
BUNDLED = "8f3c1d2e-5b6a-4c7d-9e8f-0a1b2c3d4e5f"


def test_loads_as_usage_tracking_and_sends_startup_and_ping_when_enabled(
    octoprint, receiver
):
    # The bundled plugin is pointed at the same receiver with its own yes and id:
    # anything it sent would show up with its id.
    config = {
        "plugins": {
            "usage_tracking": {
                "enabled": True,
                "consent_version": 2,
                "unique_id": OURS,
            },
            "tracking": {
                "enabled": True,
                "unique_id": BUNDLED,
                "server": receiver.url,
            },
        }
    }
    server = octoprint(config=config)
    receiver.wait_for_event("startup")
    receiver.wait_for_event("ping")
    s = server.session()
    status = server.api(s, "GET", "/api/plugin/usage_tracking").json()
    assert status["active"] is True
    assert status["took_over_bundled"] is True
    assert {h.instance for h in receiver.hits} == {OURS}
    assert all("UsageTracking/" in h.headers["User-Agent"] for h in receiver.hits)
    startup = receiver.received("startup")[0].fields
    assert startup["version"] == "1.11.8"
    assert {"os", "python", "cores", "ram"} <= set(startup)


@pytest.mark.parametrize("decision", [None, False])
def test_nothing_arrives_while_undecided_or_disabled(octoprint, receiver, decision):
    server = octoprint(config={"plugins": {"usage_tracking": {"enabled": decision}}})
    s = server.session()
    status = server.api(s, "GET", "/api/plugin/usage_tracking").json()
    assert status["active"] is False
    assert status["wizard_required"] is (decision is None)
    # Connect the virtual printer: events flow, yet nothing may be reported.
    server.connect_printer(s)
    server.stop()
    assert receiver.attempts == []


def test_kill_switch_in_environment_keeps_everything_home(octoprint, receiver):
    server = octoprint(config=ENABLED, env={"DO_NOT_TRACK": "1"})
    s = server.session()
    status = server.api(s, "GET", "/api/plugin/usage_tracking").json()
    assert status["kill_switch"] == "DO_NOT_TRACK"
    assert status["wizard_required"] is False
    server.stop()
    assert receiver.attempts == []


def test_sigterm_delivers_shutdown(octoprint, receiver):
    server = octoprint(config=ENABLED)
    receiver.wait_for_event("startup")
    took = server.stop(signal.SIGTERM)
    assert receiver.received("shutdown"), receiver.events()
    assert took < 15


def test_takes_over_the_bundled_decision_and_id_when_undecided(octoprint, receiver):
    config = {"plugins": {"tracking": {"enabled": True, "unique_id": BUNDLED,
                                       "server": receiver.url}}}  # fmt: skip
    server = octoprint(config=config)
    receiver.wait_for_event("startup")
    assert {h.instance for h in receiver.hits} == {BUNDLED}
    assert all("UsageTracking/" in h.headers["User-Agent"] for h in receiver.hits)
    assert "tracking" in server.config["plugins"]["_disabled"]
    s = server.session()
    status = server.api(s, "GET", "/api/plugin/usage_tracking").json()
    # The bundled yes covered version 1: version 2's additions wait for the wizard.
    assert status["consent"]["accepted"] == 1 and status["wizard_required"] is True
    assert "stats_users" not in receiver.wait_for_event("pong")[0].fields
