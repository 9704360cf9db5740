"""A real OctoPrint's plugin asks a real collector what it holds about the instance,
through the plugin's API and the CLI; and asks nothing while tracking is off."""

from __future__ import annotations

import json
import uuid

import pytest

from harness.octoprint import USER, copy_basedir
from octoprint_tracking.core.consent import Config
from octoprint_tracking.delivery import Target
from octoprint_tracking.delivery.client import fetch_server_data
from tests.conftest import reporting_to

pytestmark = pytest.mark.e2e

API = "/api/plugin/usage_tracking"
ON = {"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2}}}


def test_the_plugin_shows_what_the_collector_holds_about_this_instance_to_its_admin(
    collector, template_basedir, tmp_path
):
    server = reporting_to(
        collector, copy_basedir(template_basedir, tmp_path / "base"), ON
    )
    try:
        s = server.session()
        instance = server.config["plugins"]["usage_tracking"]["unique_id"]

        r = server.api(s, "GET", API + "?what=server_data")
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["state"] == "ok", answer
        data = answer["data"]
        assert data["instance_id"] == instance
        assert data["environment"]["version"] == "1.11.8"
        plugins = {p["id"]: p["version"] for p in data["environment"]["plugins"]}
        assert "usage_tracking" in plugins
        assert data["first_seen"] and data["last_seen"]
        assert {e["event"] for e in data["events"]} >= {"startup"}

        viewer = server.api(server.session(USER), "GET", API + "?what=server_data")
        assert viewer.status_code == 403

        out = tmp_path / "server-data.json"
        server.cli(
            "plugins", "usage_tracking:server-data", "--json", "--output", str(out)
        )
        answer = json.loads(out.read_text())
        assert answer["state"] == "ok" and answer["data"]["instance_id"] == instance
        text = server.cli("plugins", "usage_tracking:server-data").stdout
        assert "What the tracking server holds about this instance:" in text
        assert "usage_tracking" in text and "startup" in text

        # The owner's question leaves no trace of the id or the server in the log.
        log = server.log.read_text(errors="replace")
        assert instance not in log and collector not in log
    finally:
        server.stop()


def test_with_tracking_disabled_nothing_is_asked_of_the_server(octoprint, receiver):
    server = octoprint(config={"plugins": {"usage_tracking": {"enabled": False}}})
    r = server.api(server.session(), "GET", API + "?what=server_data")
    assert r.status_code == 200, r.text
    assert r.json() == {"state": "off", "reason": "tracking_off"}
    cli = server.cli("plugins", "usage_tracking:server-data", check=False)
    assert cli.returncode == 1
    assert "Tracking is off: nothing is asked of the server." in cli.stderr
    assert receiver.attempts == []


def test_the_collector_answers_unknown_and_limited_as_the_plugin_reads_them(collector):
    # An id the collector never saw: its 404 is "nothing held", not "not offered";
    # asked again and again, its 429 says when to come back.
    stranger = Config(enabled=True, unique_id=str(uuid.uuid4()), accepted=2)
    target = Target(collector + "/track/{id}/{event}/", stranger)
    answers = [fetch_server_data(target, "test").as_dict() for _ in range(8)]
    assert answers[0] == {"state": "unknown", "status": 404}
    limited = [a for a in answers if a["state"] == "limited"]
    assert limited and limited[0]["status"] == 429 and limited[0]["retry_after"] >= 1
