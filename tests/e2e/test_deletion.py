"""Off reaches the server: in a real OctoPrint 1.11.8, switching off can ask the server
to delete what it holds about the instance; one DELETE, kept across an outage and a
restart until the server answers, and nothing else after the "off"."""

from __future__ import annotations

import json

import pytest
import requests

from harness.octoprint import copy_basedir
from octoprint_tracking.settings import POLICY_NAME
from tests.conftest import reporting_to

pytestmark = pytest.mark.e2e

API = "/api/plugin/usage_tracking"
ON = {"enabled": True, "consent_version": 2}


def held(collector_url, instance):
    """What the collector answers about the instance: 200 (it holds data) or 404."""
    r = requests.get(f"{collector_url}/track/{instance}/", timeout=10)
    return r.status_code, r.json()


def deletion(server, s):
    return server.api(s, "GET", API).json()["delivery"]["deletion"]


def test_the_collector_forgets_the_instance_after_an_outage_and_a_restart(
    collector_server, template_basedir, tmp_path
):
    collector = collector_server.url
    basedir = copy_basedir(template_basedir, tmp_path / "base")
    server = reporting_to(collector, basedir, {"plugins": {"usage_tracking": ON}})
    try:
        s = server.session()
        instance = server.config["plugins"]["usage_tracking"]["unique_id"]
        assert held(collector, instance)[0] == 200

        collector_server.stop()  # the outage
        r = server.api(s, "POST", API,
                       json={"command": "decide", "enabled": False, "forget": True})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["active"] is False
        assert r.json()["delivery"]["deletion"]["state"] == "requested"
        server.wait_until(
            s, API, lambda st: (st["delivery"]["last_problem"] or {}).get("report")
            == "deletion_request", what="a failed try at the deletion request",
        )  # fmt: skip

        server.stop()  # the restart, still during the outage
        waiting = list((basedir / "data" / "usage_tracking").glob("deletion-*.json"))
        assert len(waiting) == 1
        server.start()
        s = server.session()
        assert deletion(server, s)["state"] == "requested"

        collector_server.start()  # same port, same database
        server.wait_until(s, API, lambda st: st["delivery"]["deletion"]["state"]
                          == "confirmed", what="deletion confirmed")  # fmt: skip
        status, answer = held(collector, instance)
        assert (status, answer.get("error")) == (404, "unknown_instance")

        journal = server.api(s, "GET", API + "?what=journal").json()["journal"]
        assert journal[-1]["report"] == "deletion_request"
        assert (journal[-1]["outcome"], journal[-1]["status"]) == ("confirmed", 200)
        text = server.cli("plugins", "usage_tracking:status").stdout
        assert "Deletion:        confirmed by the server" in text
        assert not list((basedir / "data" / "usage_tracking").glob("deletion-*.json"))

        # Nothing after the "off" but the DELETE: not even the shutdown report, which
        # would make the collector hold the instance again.
        server.stop()
        assert held(collector, instance)[0] == 404
        log = server.log.read_text(errors="replace")
        assert instance not in log and collector not in log
        assert "The tracking server answered the deletion request: confirmed" in log
    finally:
        server.stop()


def test_disable_forget_on_the_cli_is_sent_by_the_running_server(octoprint, receiver):
    server = octoprint(config={"plugins": {"usage_tracking": {**ON, "ping": 2}}})
    receiver.wait_for_event("ping")
    instance = server.config["plugins"]["usage_tracking"]["unique_id"]
    out = server.cli("plugins", "usage_tracking:disable", "--forget").stdout
    assert "will be asked to delete what it holds about this instance" in out
    assert "picks this up within seconds" in out
    receiver.wait_for(lambda hits: any(h.method == "DELETE" for h in hits))
    (hit,) = receiver.deletes()
    assert (hit.instance, hit.event) == (instance, "")
    s = server.session()
    server.wait_until(s, API, lambda st: (st["delivery"]["deletion"] or {}).get("state")
                      == "confirmed", what="deletion confirmed")  # fmt: skip
    pings = len(receiver.received("ping"))
    server.stop()
    after = receiver.hits[receiver.hits.index(hit) + 1 :]
    assert after == [], [h.event for h in after]
    assert len(receiver.received("ping")) == pings


def test_a_server_without_deletion_is_named_as_such(octoprint, receiver):
    receiver.delete_answer = (405, {"Content-Type": "application/json"},
                              json.dumps({"ok": False}).encode())  # fmt: skip
    server = octoprint(config={"plugins": {"usage_tracking": ON}})
    receiver.wait_for_event("startup")
    s = server.session()
    r = server.api(s, "POST", API,
                   json={"command": "decide", "enabled": False, "forget": True})  # fmt: skip
    assert r.status_code == 200
    server.wait_until(s, API, lambda st: (st["delivery"]["deletion"] or {}).get("state")
                      == "unsupported", what="named unsupported")  # fmt: skip
    assert deletion(server, s)["status"] == 405
    text = server.cli("plugins", "usage_tracking:status").stdout
    assert "the server does not offer deletion (HTTP 405" in text
    assert len(receiver.deletes()) == 1, "asked once: the answer is final"


def test_an_instance_a_policy_switched_off_can_still_ask_the_server_to_forget(
    octoprint, receiver
):
    server = octoprint(config={"plugins": {"usage_tracking": ON}})
    receiver.wait_for_event("startup")
    instance = server.config["plugins"]["usage_tracking"]["unique_id"]
    server.stop()
    (server.basedir / POLICY_NAME).write_text("enabled: false\nlocked: [enabled]\n")
    before = len(receiver.hits)
    server.start()
    s = server.session()
    status = server.api(s, "GET", API).json()
    assert status["active"] is False and status["policy"]["locked"] == ["enabled"]
    # The decision is the administrator's; asking the server to forget is the owner's.
    r = server.api(s, "POST", API,
                   json={"command": "decide", "enabled": False, "forget": True})  # fmt: skip
    assert r.status_code == 200, r.text
    server.wait_until(s, API, lambda st: (st["delivery"]["deletion"] or {}).get("state")
                      == "confirmed", what="deletion confirmed")  # fmt: skip
    server.stop()
    assert [(h.method, h.instance) for h in receiver.hits[before:]] == [
        ("DELETE", instance)
    ]


def test_a_malformed_id_is_replaced_and_reports_go_under_the_new_one(octoprint, receiver):
    garbage = {**ON, "unique_id": 12345, "ping": "often", "pong": -3,
               "events": {"printjob": "maybe"}, "delivery": {"timeout": "x"}}  # fmt: skip
    server = octoprint(config={"plugins": {"usage_tracking": garbage}})
    startup = receiver.wait_for_event("startup")[0]
    new = server.config["plugins"]["usage_tracking"]["unique_id"]
    assert startup.instance == new and len(new) == 36
    log = server.log.read_text(errors="replace")
    (line,) = [x for x in log.splitlines() if "instance id in config.yaml" in x]
    assert line.endswith(
        "The instance id in config.yaml was malformed (not a UUID); a new random id "
        "was made"
    )
    assert "12345" not in line and new not in log
    text = server.cli("plugins", "usage_tracking:status").stdout
    assert "Tracking:        enabled" in text and "malformed" not in text
