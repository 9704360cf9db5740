"""Who may see and change tracking, and where reports may go, in a real OctoPrint."""

from __future__ import annotations

import pytest
import requests

from harness.octoprint import USER

pytestmark = pytest.mark.e2e

API = "/api/plugin/usage_tracking"


@pytest.fixture(scope="module")
def server(module_octoprint):
    return module_octoprint(
        config={"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2}}}
    )


def test_anonymous_calls_to_the_api_are_rejected(server):
    anonymous = server.session(user=None)
    assert server.api(anonymous, "GET", API).status_code in (401, 403)
    r = server.api(anonymous, "POST", API, json={"command": "decide", "enabled": False})
    assert r.status_code in (401, 403)
    assert requests.get(server.url + API, timeout=10).status_code in (401, 403)


def test_users_without_the_permission_are_rejected(server):
    viewer = server.session(USER)
    assert server.api(viewer, "GET", API).status_code == 403
    for command in ({"command": "decide", "enabled": False}, {"command": "reset_id"}):
        assert server.api(viewer, "POST", API, json=command).status_code == 403
    assert server.config["plugins"]["usage_tracking"]["enabled"] is True


def test_admins_have_the_permission(server):
    admin = server.session()
    assert server.api(admin, "GET", API).json()["active"] is True


def test_non_admins_see_neither_the_id_nor_the_server(server):
    viewer = server.session(USER)
    ours = server.api(viewer, "GET", "/api/settings").json()["plugins"]["usage_tracking"]
    # OctoPrint blanks restricted paths (None) rather than dropping the keys.
    assert ours.get("unique_id") is None and ours.get("server") is None
    assert not ours.get("events") and ours.get("enabled") is None
    admin = server.session()
    ours = server.api(admin, "GET", "/api/settings").json()["plugins"]["usage_tracking"]
    assert ours["unique_id"] and ours["server"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    "url",
    ["http://tracking.example.org/track/{id}/{event}/", "ftp://127.0.0.1/{id}/{event}",
     "https://example.org/without/placeholders"],
)  # fmt: skip
def test_a_server_that_is_not_https_or_loopback_is_refused_on_save(server, url):
    before = server.config["plugins"]["usage_tracking"]["server"]
    admin = server.session()
    r = server.api(admin, "POST", "/api/settings",
                   json={"plugins": {"usage_tracking": {"server": url}}})  # fmt: skip
    assert r.status_code == 200
    assert server.config["plugins"]["usage_tracking"]["server"] == before
    assert "Refused a new tracking server" in server.log.read_text()


def test_the_webui_may_only_track_its_own_load_with_short_printable_strings(server):
    viewer = server.session(USER)
    good = {"browser_name": "Chrome", "browser_version": "131", "os_name": "Linux",
            "os_version": "x86_64"}  # fmt: skip
    ok = server.api(viewer, "POST", API,
                    json={"command": "track", "event": "webui_load", "payload": good})  # fmt: skip
    assert ok.status_code == 200
    server.receiver.wait_for_event("webui_load")
    for event, payload in (("print_done", good), ("webui_load", {**good, "os_name": "x" * 65}),
                           ("webui_load", {**good, "browser_name": "a\nb"})):  # fmt: skip
        r = server.api(viewer, "POST", API,
                       json={"command": "track", "event": event, "payload": payload})  # fmt: skip
        assert r.status_code == 400, (event, payload)


def test_software_update_lists_our_entry(server):
    admin = server.session()
    info = server.api(admin, "GET", "/plugin/softwareupdate/check").json()["information"]
    ours = info["usage_tracking"]
    assert ours["displayName"] == "Anonymous Usage Tracking (UsageTracking)"
    assert ours["displayVersion"] == "0.1.0"
    # It really asked GitHub for a release; this machine has no route there.
    assert ours["error"] == "network" and ours["information"]["needs_online"] is True


def test_a_bad_server_in_config_yaml_is_ignored_with_a_warning(octoprint, receiver):
    bad = "http://tracking.example.org/track/{id}/{event}/"
    config = {"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2,
                                             "server": bad}}}  # fmt: skip
    server = octoprint(config=config)
    s = server.session()
    status = server.api(s, "GET", API).json()
    assert status["server_allowed"] is False and status["active"] is True
    log = server.log.read_text()
    assert "nothing will be sent to it" in log
    assert "tracking.example.org" not in log
    server.stop()
    assert receiver.attempts == []


def test_settings_from_an_older_layout_are_migrated(octoprint):
    old = {"plugins": {"usage_tracking": {"_config_version": 1, "enabled": True,
                                          "ping": "600", "events": {"gone": False}}}}  # fmt: skip
    server = octoprint(config=old)
    server.session()
    ours = server.config["plugins"]["usage_tracking"]
    assert ours["_config_version"] == 2
    assert ours["consent_version"] == 1
    assert ours["ping"] == 600
    assert "gone" not in ours.get("events", {})
