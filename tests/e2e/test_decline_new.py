"""Nothing new without asking, and don't ask me (``decline_new``), across a consent
version bump in a real OctoPrint 1.11.8: the owner accepted version 1 and switched
``decline_new`` on; the installed plugin is version 2."""

from __future__ import annotations

import json

import pytest

from octoprint_tracking.core import catalog

pytestmark = pytest.mark.e2e

API = "/api/plugin/usage_tracking"
NEW = ("stats_", "feature_")


def test_a_newer_version_is_declined_automatically_and_the_owner_not_asked(
    octoprint, receiver
):
    before_bump = {"enabled": True, "consent_version": 1, "decline_new": True, "pong": 2}
    server = octoprint(config={"plugins": {"usage_tracking": before_bump}})
    s = server.session()
    status = server.api(s, "GET", API).json()
    assert status["consent"] == {"accepted": 1, "current": catalog.CONSENT_VERSION,
                                 "decline_new": True, "declines_current": True}  # fmt: skip
    assert status["wizard_required"] is False and status["active"] is True
    wizard = server.api(s, "GET", "/api/setup/wizard").json()["usage_tracking"]
    assert wizard["required"] is False

    # What was accepted is still sent, the new fields never are.
    pongs = receiver.wait_for_event("pong", count=2)
    for pong in pongs:
        assert "version" in pong.fields
        assert not [f for f in pong.fields if f.startswith(NEW)], pong.fields

    # The preview says what is declined this way, apart from what is sent.
    preview = server.api(s, "GET", API, params={"what": "preview"}).json()["preview"]
    pong = next(p for p in preview if p["report"] == "pong")
    assert {"stats_users", "feature_webcam"} <= set(pong["declined"])
    assert not [f for f in pong["fields"] if f.startswith(NEW)]
    out = server.cli("plugins", "usage_tracking:preview").stdout
    assert "stats_users = " in out and "[declined: never sent]" in out
    cli = server.cli("plugins", "usage_tracking:preview", "--json").stdout
    cli_pong = next(p for p in json.loads(cli[cli.index("[") :]) if p["report"] == "pong")
    assert set(cli_pong["declined"]) == set(pong["declined"])

    # Switched off on the CLI, the owner is asked again (by the running server).
    out = server.cli("plugins", "usage_tracking:decline-new", "off").stdout
    assert "a later consent version asks you first" in out
    server.wait_until(s, API, lambda st: st["wizard_required"] is True,
                      what="asked again after decline-new off")  # fmt: skip
    assert server.config["plugins"]["usage_tracking"].get("decline_new", False) is False
    server.cli("plugins", "usage_tracking:decline-new", "on")
    server.wait_until(s, API, lambda st: st["wizard_required"] is False,
                      what="not asked after decline-new on")  # fmt: skip
    text = server.cli("plugins", "usage_tracking:status").stdout
    assert "Decline new:     on" in text
    assert "1 accepted, 2 current, the newer one declined" in text


def test_the_wizard_choice_is_saved_with_the_decision(octoprint, receiver):
    server = octoprint()
    s = server.session()
    r = server.api(s, "POST", API,
                   json={"command": "decide", "enabled": True, "decline_new": True})  # fmt: skip
    assert r.status_code == 200, r.text
    ours = server.config["plugins"]["usage_tracking"]
    assert ours["decline_new"] is True and ours["consent_version"] == 2
    r = server.api(s, "POST", API, json={"command": "decide", "enabled": "no"})
    assert r.status_code == 400
