"""The machine policy in a real OctoPrint 1.11.8: one file decides and locks, every
place where the owner decides refuses a change, and a policy that says off (or cannot
be read) keeps everything home."""

from __future__ import annotations

import json

import pytest

from harness.wait import eventually
from octoprint_tracking.settings import POLICY_ENV

pytestmark = pytest.mark.e2e

API = "/api/plugin/usage_tracking"
LOCKED = "is set by the administrator of this machine and cannot be changed here."
#: What the owner had chosen before the farm's policy came: all of it is overruled.
OWNER = {"enabled": False, "events": {"webui_load": True},
         "server": "https://tracking.example.org/track/{id}/{event}/"}  # fmt: skip


def farm_policy(receiver) -> str:
    return (
        "enabled: true\n"
        "events:\n  webui_load: false\n"
        f"server: {receiver.url}\n"
        "locked: [enabled, events, server]\n"
    )


def tracebacks_of_ours(log: str):
    """Records of this plugin's loggers that carry a traceback (OctoPrint's own
    plugins, offline here, log theirs)."""
    lines = log.splitlines()
    return [
        line
        for line, after in zip(lines, lines[1:] + [""])
        if " - octoprint.plugins.usage_tracking" in line and after.startswith("Traceback")
    ]


def status_of(server, s=None):
    return server.api(s or server.session(), "GET", API).json()


def cli_json(server, *args):
    out = server.cli("plugins", *args).stdout
    return json.loads(out[out.index("{") :])


@pytest.fixture(scope="module")
def farm(module_octoprint):
    """One instance of a farm: the owner had said no, the policy says yes and locks
    everything."""
    # The ping every 2 s: a barrier at the receiver.
    config = {"plugins": {"usage_tracking": {**OWNER, "ping": 2}}}
    return module_octoprint(config=config, policy=farm_policy)


def test_the_policy_decides_locks_and_is_not_asked_about(farm):
    s = farm.session()
    status = status_of(farm, s)
    assert status["active"] is True and status["wizard_required"] is False
    assert status["policy"]["locked"] == ["enabled", "events", "server"]
    assert status["policy"]["source"] == "basedir"
    # The administrator's yes accepts what the installed version sends.
    assert status["consent"]["accepted"] == status["consent"]["current"]
    wizard = farm.api(s, "GET", "/api/setup/wizard").json()
    assert wizard["usage_tracking"]["required"] is False
    ours = farm.api(s, "GET", "/api/settings").json()["plugins"]["usage_tracking"]
    assert (ours["enabled"], ours["events"]["webui_load"], ours["server"]) == (
        True, False, farm.receiver.url,
    )  # fmt: skip
    # Reports go where the policy says, without what it switched off.
    farm.receiver.wait_for_event("startup")
    load = {"browser_name": "Chrome", "browser_version": "131", "os_name": "Linux",
            "os_version": "x86_64"}  # fmt: skip
    r = farm.api(s, "POST", API,
                 json={"command": "track", "event": "webui_load", "payload": load})  # fmt: skip
    assert r.json() == {"queued": True}
    pings = len(farm.receiver.received("ping"))
    farm.receiver.wait_for_event("ping", count=pings + 1)
    assert farm.receiver.received("webui_load") == []
    # The owner's own values stay in config.yaml, under the policy.
    assert farm.config["plugins"]["usage_tracking"]["enabled"] is False


def test_the_api_refuses_to_change_a_locked_decision(farm):
    s = farm.session()
    r = farm.api(s, "POST", API, json={"command": "decide", "enabled": False})
    assert r.status_code == 409
    assert r.json() == {
        "error": f"Anonymous usage tracking {LOCKED}",
        "locked": ["enabled"],
    }
    # Saying what is in force changes nothing and is not refused.
    r = farm.api(s, "POST", API, json={"command": "decide", "enabled": True})
    assert r.status_code == 200 and r.json()["active"] is True


def test_the_settings_dialog_cannot_change_a_locked_setting(farm):
    s = farm.session()
    change = {"enabled": False, "events": {"webui_load": True},
              "server": "https://other.example/track/{id}/{event}/", "decline_new": True}  # fmt: skip
    r = farm.api(s, "POST", "/api/settings",
                 json={"plugins": {"usage_tracking": change}})  # fmt: skip
    assert r.status_code == 200
    ours = r.json()["plugins"]["usage_tracking"]
    assert (ours["enabled"], ours["events"]["webui_load"], ours["server"]) == (
        True, False, farm.receiver.url,
    )  # fmt: skip
    assert ours["decline_new"] is True, "what is not locked is saved"
    assert status_of(farm, s)["active"] is True
    farm.wait_for_log(
        "Refused a change to settings set by the administrator of this machine: "
        "enabled, events, server"
    )


def test_the_cli_refuses_and_its_status_names_the_administrator(farm):
    refused = farm.cli("plugins", "usage_tracking:disable", check=False)
    assert refused.returncode == 1
    assert f"Anonymous usage tracking {LOCKED}" in refused.stderr
    text = farm.cli("plugins", "usage_tracking:status").stdout
    assert "Tracking:        enabled (set by the administrator of this machine)" in text
    assert (
        "Switched off:    webui_load (set by the administrator of this machine)" in text
    )
    assert "(set by the administrator of this machine)" in text.split("Server:")[1]
    assert "usage_tracking_policy.yaml in OctoPrint's basedir, locks: enabled" in text
    data = cli_json(farm, "usage_tracking:status", "--json")
    assert data["decision"] == "enabled" and data["server"] == farm.receiver.url
    assert data["policy"]["locked"] == ["enabled", "events", "server"]


def test_the_log_names_the_policy_but_neither_the_server_nor_the_id(farm):
    log = farm.log.read_text(errors="replace")
    assert (
        "Usage tracking policy (usage_tracking_policy.yaml in OctoPrint's basedir): "
        "sets enabled, events, server; locks enabled, events, server"
    ) in log
    assert f"127.0.0.1:{farm.receiver.port}" not in log
    assert farm.config["plugins"]["usage_tracking"]["unique_id"] not in log


def test_nothing_is_sent_when_the_policy_says_off(octoprint, receiver):
    mine = {"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2}}}
    server = octoprint(config=mine, policy="enabled: false\nlocked: [enabled]\n")
    s = server.session()
    status = status_of(server, s)
    assert status["active"] is False and status["wizard_required"] is False
    server.connect_printer(s)
    server.stop()
    assert receiver.attempts == []


@pytest.mark.parametrize(
    "text,problem",
    [("enabled: yes please\n", "enabled must be true or false."),
     ("enabled: true\nlocked: [enabled\n", "The policy file is not valid YAML (line 3)."),
     ("enable: true\n", "Unknown key in the policy file: enable")],
)  # fmt: skip
def test_a_malformed_policy_sends_nothing_and_says_why(
    octoprint, receiver, text, problem
):
    mine = {"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2}}}
    server = octoprint(config=mine, policy=text)
    s = server.session()
    status = status_of(server, s)
    assert status["active"] is False and status["wizard_required"] is False
    assert status["policy"]["problem"]["english"].startswith(problem)
    wizard = server.api(s, "GET", "/api/setup/wizard").json()
    assert wizard["usage_tracking"]["required"] is False
    server.connect_printer(s)
    text_status = server.cli("plugins", "usage_tracking:status").stdout
    assert "cannot be used: " + problem in text_status
    server.stop()
    assert receiver.attempts == []
    log = server.log.read_text(errors="replace")
    assert "The usage tracking policy (usage_tracking_policy.yaml in OctoPrint's " in log
    assert problem in log and "Nothing is sent until it is fixed." in log
    assert tracebacks_of_ours(log) == []
    assert server.config["plugins"]["usage_tracking"]["unique_id"] not in log


def test_the_variable_names_a_policy_elsewhere_and_a_missing_one_fails_safe(
    octoprint, receiver, tmp_path
):
    named = tmp_path / "farm-policy.yaml"
    mine = {"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2}}}
    server = octoprint(config=mine, env={POLICY_ENV: str(named)})
    status = status_of(server)
    assert status["active"] is False
    assert status["policy"]["source"] == "environment"
    assert status["policy"]["problem"]["english"] == (
        "The policy file named in OCTOPRINT_TRACKING_POLICY does not exist."
    )
    server.stop()
    assert receiver.attempts == []
    assert str(named) not in server.log.read_text(errors="replace")

    named.write_text("enabled: true\nlocked: [enabled]\n")
    server.start()
    assert status_of(server)["policy"]["locked"] == ["enabled"]
    receiver.wait_for_event("startup")


def test_a_yes_from_the_policy_accepts_a_newer_consent_version(octoprint, receiver):
    mine = {"plugins": {"usage_tracking": {"consent_version": 1, "pong": 2}}}
    server = octoprint(config=mine, policy="enabled: true\nlocked: [enabled]\n")
    assert server.config["plugins"]["usage_tracking"]["consent_version"] == 2
    receiver.wait_for(
        lambda hits: any(h.event == "pong" and "stats_users" in h.fields for h in hits)
    )
    eventually(lambda: "The administrator's policy accepts what this version" in
               server.log.read_text(errors="replace"), what="log line")  # fmt: skip
