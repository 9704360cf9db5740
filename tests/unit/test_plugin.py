"""The plugin class with OctoPrint's real settings: takeover, hooks, host thread."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from types import SimpleNamespace

import flask
import pytest
import werkzeug.exceptions
import yaml
from octoprint.plugins.tracking import TrackingPlugin

import octoprint_tracking
from harness import plugin as support
from harness.wait import eventually
from octoprint_tracking import actions, cli, host, secret, settings
from octoprint_tracking.core import catalog, server_view
from octoprint_tracking.core.address import instance_url
from octoprint_tracking.delivery import Options, files

JOB = {"name": "x.gcode", "path": "x.gcode", "origin": "local", "time": 12.0}
BUNDLED_ID = "8f3c1d2e-5b6a-4c7d-9e8f-0a1b2c3d4e5f"
OURS = "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516"
OLD = "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6"


class WithBundled(support.PluginManager):
    def __init__(self, implementation):
        self.info = SimpleNamespace(implementation=implementation, key="tracking")

    def get_plugin_info(self, identifier, require_enabled=True):
        return self.info if identifier == "tracking" else None


def build(tmp_path, values=None, plugin_manager=None, bundled=None):
    globals_ = {("plugins", "_disabled"): []}
    if bundled is not None:
        globals_[("plugins", "tracking")] = bundled
    else:
        support.real_settings().remove(["plugins", "tracking"])
    return support.build(
        octoprint_tracking.UsageTrackingPlugin,
        "usage_tracking",
        tmp_path,
        values,
        plugin_manager=plugin_manager,
        global_values=globals_,
    )


def test_takeover_adopts_the_bundled_decision_and_id_when_ours_is_undecided(tmp_path):
    bundled = TrackingPlugin()
    p = build(tmp_path, plugin_manager=WithBundled(bundled),
              bundled={"enabled": True, "unique_id": BUNDLED_ID})  # fmt: skip
    assert p._settings.get(["enabled"]) is True
    assert p._settings.get(["unique_id"]) == BUNDLED_ID
    # A yes given to the bundled plugin covers what it sent: consent version 1.
    assert p._tracker.config.accepted == 1 and p._tracker.config.wizard_required
    assert "tracking" in p._settings.global_get(["plugins", "_disabled"])


def test_takeover_silences_the_bundled_plugin_at_once(tmp_path):
    bundled = TrackingPlugin()
    build(tmp_path, plugin_manager=WithBundled(bundled), bundled={"enabled": True})
    assert bundled.is_wizard_required() is False
    for method in ("_track", "on_event", "on_after_startup", "on_shutdown"):
        assert getattr(bundled, method)("anything") is None


def test_takeover_keeps_our_own_decision(tmp_path):
    p = build(tmp_path, {"enabled": False, "unique_id": OURS},
              plugin_manager=WithBundled(TrackingPlugin()),
              bundled={"enabled": True, "unique_id": BUNDLED_ID})  # fmt: skip
    assert (p._settings.get(["enabled"]), p._settings.get(["unique_id"])) == (
        False,
        OURS,
    )


def test_without_the_bundled_plugin_nothing_is_disabled(tmp_path):
    p = build(tmp_path)
    assert p._took_over is False
    assert "tracking" not in (p._settings.global_get(["plugins", "_disabled"]) or [])


def test_a_unique_id_is_made_at_first_start(tmp_path):
    p = build(tmp_path)
    assert len(p._settings.get(["unique_id"])) == 36


def test_settings_are_read_from_the_cache_not_on_every_event(tmp_path, monkeypatch):
    p = build(tmp_path, {"enabled": True, "consent_version": catalog.CONSENT_VERSION})
    calls = []
    monkeypatch.setattr(p._settings, "get", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(p._settings, "get_boolean", lambda *a, **k: calls.append(a))
    for _ in range(100):
        p.on_event("PrintDone", JOB)
    assert calls == []
    assert p._tracker.delivery.status()["queued"] == 100


def test_on_event_returns_without_waiting_while_the_server_hangs(tmp_path, receiver):
    receiver.set_mode("hang")
    p = build(tmp_path, {"enabled": True, "consent_version": 2, "server": receiver.url})
    p.on_after_startup()
    eventually(lambda: receiver.attempts)
    slowest = 0.0
    for _ in range(500):
        t = time.perf_counter()
        p.on_event("PrintDone", JOB)
        slowest = max(slowest, time.perf_counter() - t)
    assert slowest < 0.1, f"on_event blocked {slowest:.3f}s"
    p._timer.cancel()
    p._tracker.delivery.shutdown(deadline=0.2)
    receiver.set_mode("ok")


def test_disabling_through_settings_drops_queued_reports(tmp_path):
    p = build(tmp_path, {"enabled": True, "consent_version": 2})
    p._plugin_manager.send_plugin_message = lambda *a: None
    for _ in range(5):
        p.on_event("PrintDone", JOB)
    assert p._tracker.delivery.status()["queued"] == 5
    p.on_settings_save({"enabled": False})
    assert p._tracker.delivery.status()["queued"] == 0
    p.on_event("PrintDone", JOB)
    assert p._tracker.delivery.status()["queued"] == 0


def test_switching_a_category_off_stops_its_reports(tmp_path):
    p = build(tmp_path, {"enabled": True, "consent_version": 2})
    p.on_settings_save({"events": {"printjob": False}})
    p.on_event("PrintDone", JOB)
    p.on_event("plugin_pluginmanager_install_plugin", {"id": "x", "version": "1"})
    assert [r.name for r in p._tracker.delivery.queued()] == ["install_plugin"]


def test_saying_yes_in_settings_accepts_the_current_consent_version(tmp_path):
    p = build(tmp_path, {"enabled": None})
    p.on_settings_save({"enabled": True})
    assert p._settings.get(["consent_version"]) == catalog.CONSENT_VERSION
    assert p._tracker.config.active and not p._tracker.config.wizard_required


def test_software_update_entry_uses_github_releases_and_pip(tmp_path):
    p = build(tmp_path)
    entry = p.get_update_information()["usage_tracking"]
    assert entry["type"] == "github_release"
    assert entry["pip"].endswith("/archive/{target_version}.zip")


def test_a_permission_for_admins_is_registered(tmp_path):
    (permission,) = build(tmp_path).get_additional_permissions()
    assert permission["key"] == "ADMIN" and permission["default_groups"] == ["admins"]


@pytest.mark.parametrize("name", ["CI", "DO_NOT_TRACK"])
def test_kill_switch_is_reported_in_status(tmp_path, monkeypatch, name):
    monkeypatch.setenv(name, "1")
    p = build(tmp_path, {"enabled": True, "consent_version": 2})
    status = p.status()
    assert status["kill_switch"] == name and status["active"] is False
    assert p.is_wizard_required() is False


def test_a_local_collector_gets_reports_while_octoprint_is_offline(tmp_path, receiver):
    # The connectivity check is about the internet: a local collector gets reports
    # even while OctoPrint thinks it is offline.
    p = build(tmp_path, {"enabled": True, "consent_version": 2, "server": receiver.url})
    p._connectivity_checker.online = False
    try:
        p.on_after_startup()
        receiver.wait_for_event("startup")
    finally:
        p._connectivity_checker.online = True
        p._timer.cancel()
        p._tracker.delivery.shutdown(deadline=0.2)


def test_offline_holds_reports_for_a_remote_server(tmp_path):
    remote = "https://tracking.example.org/track/{id}/{event}/"
    p = build(tmp_path, {"enabled": True, "consent_version": 2, "server": remote})
    p._tracker.set_online(False)
    assert p._tracker.delivery.status()["online"] is False
    p._tracker.set_online(True)
    assert p._tracker.delivery.status()["online"] is True


def written_by_the_cli(p, **values):
    """Change ``plugins.usage_tracking`` in config.yaml as another process (the CLI)
    does, after the running server's last look at the file; returns the settings."""
    settings = p._settings.settings
    settings.save(force=True)
    p._tracker.mark_config_seen()
    with open(settings._configfile) as f:
        config = yaml.safe_load(f)
    config["plugins"]["usage_tracking"].update(values)
    with open(settings._configfile, "w") as f:
        yaml.safe_dump(config, f)
    return settings


def test_a_running_server_notices_a_cli_disable_even_after_another_set(tmp_path):
    # OctoPrint reloads a changed config.yaml on its next set(): the watcher must
    # still see that the snapshot is stale.
    p = build(tmp_path, {"enabled": True, "consent_version": 2})
    settings = written_by_the_cli(p, enabled=False)
    settings.set(["appearance", "name"], "printer-a")  # reloads the file itself
    p._tracker.tick()  # unsaved change in memory: not now
    settings.save()  # as OctoPrint's API does right after a set
    p._tracker.tick()
    assert p._tracker.config.active is False


def test_the_file_hash_key_is_made_at_first_start_in_the_data_folder(tmp_path):
    values = {"enabled": True, "consent_version": 2, "unique_id": OURS}
    p = build(tmp_path, values)
    key = (tmp_path / secret.NAME).read_bytes()
    assert len(key) == secret.SIZE and p._tracker.state.file_key == key
    # The same key on the next start: repeated prints still match.
    again = build(tmp_path, values)
    assert again._tracker.state.file_key == key


def test_reset_id_replaces_the_file_hash_key(tmp_path):
    p = build(tmp_path, {"enabled": True, "consent_version": 2})
    p.on_event("PrintStarted", JOB)
    before = p._tracker.delivery.queued()[-1].fields["file"]
    actions.reset_id(p._store, str(tmp_path))
    p._tracker.refresh_and_apply()
    p.on_event("PrintStarted", JOB)
    after = p._tracker.delivery.queued()[-1].fields["file"]
    assert before != after


def test_the_preview_counts_files_off_the_request_thread(tmp_path, monkeypatch):
    p = build(tmp_path, {"enabled": True, "consent_version": 2})
    threads = []
    real = host.pong

    def pong(*args):
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(host, "pong", pong)
    items = {i["report"]: i for i in p._tracker.preview()}
    assert threads and threading.current_thread() not in threads
    assert items["pong"]["sample"] is False


def test_the_timer_sends_the_ping_and_pong_without_the_delivery_worker(tmp_path):
    p = build(tmp_path, {"enabled": True, "consent_version": 2})
    p._tracker.tick()
    assert [r.name for r in p._tracker.delivery.queued()] == ["ping", "pong"]
    assert p._tracker.next_wait() <= 2.0


def test_delivery_options_come_from_settings_and_bad_values_are_ignored():
    options = Options.from_settings(
        {"queue_size": "50", "backoff_base": 0.2, "timeout": "soon", "spool_interval": -1}
    )
    assert (options.queue_size, options.backoff_base) == (50, 0.2)
    assert (options.timeout, options.spool_interval) == (3.05, 60.0)


def test_nothing_is_asked_of_a_server_that_is_not_allowed(tmp_path):
    plain = "http://tracking.example.org/track/{id}/{event}/"
    p = build(tmp_path, {"enabled": True, "consent_version": 2, "server": plain})
    assert p._tracker.server_data() == {"state": "off", "reason": "server_not_allowed"}


def test_server_data_is_asked_under_this_instance_id_with_its_user_agent(
    tmp_path, receiver
):
    p = build(tmp_path, {"enabled": True, "consent_version": 2, "server": receiver.url})
    instance = p._settings.get(["unique_id"])
    document = {"instance_id": instance, "environment": {"version": "1.11.8"}}
    receiver.instance_answer = (200, {}, json.dumps(document).encode())
    assert p._tracker.server_data() == {"state": "ok", "data": document, "status": 200}
    hit = receiver.received("")[0]
    assert hit.instance == instance
    assert hit.headers["User-Agent"].startswith("OctoPrint/")


# A malformed instance id, and garbage in the other settings ---------------------------


@pytest.mark.parametrize("garbage", [12345, "12345", "not-a-uuid", ["x"], {"a": 1}, ""])
def test_a_malformed_unique_id_is_replaced_and_the_log_says_so_without_it(
    tmp_path, caplog, garbage
):
    caplog.set_level("WARNING")
    p = build(tmp_path, {"enabled": True, "consent_version": 2, "unique_id": garbage})
    new = p._settings.get(["unique_id"])
    assert re.fullmatch(r"[0-9a-f-]{36}", new) and p._tracker.config.active
    p.on_event("PrintDone", JOB)
    assert p._tracker.delivery.status()["queued"] == 1
    said = [r.getMessage() for r in caplog.records if "instance id" in r.getMessage()]
    if garbage == "":
        assert said == [], (
            "an empty id is a missing one: made silently, as at first start"
        )
    else:
        assert said == [
            "The instance id in config.yaml was malformed (not a UUID); "
            "a new random id was made"
        ]
        assert str(garbage) not in said[0] and new not in said[0]


def test_a_malformed_unique_id_written_while_running_is_replaced(tmp_path):
    p = build(tmp_path, {"enabled": True, "consent_version": 2})
    p._settings.set(["unique_id"], 12345)
    p._tracker.refresh_and_apply()
    assert re.fullmatch(r"[0-9a-f-]{36}", p._settings.get(["unique_id"]))
    assert p._tracker.config.active


def test_garbage_in_ping_pong_events_and_delivery_is_read_as_the_defaults(tmp_path):
    garbage = {"enabled": True, "consent_version": 2, "ping": "soon", "pong": [1],
               "events": "all", "delivery": {"timeout": "x", "queue_size": -5}}  # fmt: skip
    p = build(tmp_path, garbage)
    tracker = p._tracker
    assert settings.intervals(p._settings.get_all_data(merged=True)) == (900, 86400)
    assert tracker.config.events == catalog.default_events() and tracker.config.active
    assert tracker.delivery._options == Options()
    p.on_event("PrintDone", JOB)
    tracker.tick()
    assert [r.name for r in tracker.delivery.queued()] == ["print_done", "ping", "pong"]
    p.on_settings_save({"ping": {"nested": True}, "events": {"printjob": "no"}})
    assert tracker.config.active and settings.intervals(
        p._settings.get_all_data(merged=True)
    ) == (900, 86400)


# The machine policy --------------------------------------------------------------------


@pytest.fixture
def policy_file(tmp_path, monkeypatch):
    """Write the machine policy (``OCTOPRINT_TRACKING_POLICY`` names it)."""
    path = tmp_path / "policy.yaml"
    monkeypatch.setenv(settings.POLICY_ENV, str(path))

    def write(text):
        path.write_text(text)
        return path

    return write


def test_locked_settings_are_in_force_over_the_owners(tmp_path, policy_file):
    policy_file("enabled: false\nevents: {webui_load: false}\nlocked: [enabled, events]")
    p = build(tmp_path / "data", {"enabled": True, "consent_version": 2})
    assert p._tracker.config.enabled is False and not p._tracker.config.active
    assert p._settings.get(["enabled"]) is True, "the owner's own value stays under it"
    assert p.status()["policy"]["locked"] == ["enabled", "events"]
    assert p.is_wizard_required() is False


def test_a_locked_decision_is_refused_by_the_one_writer(tmp_path, policy_file):
    policy_file("enabled: true\nlocked: [enabled]")
    p = build(tmp_path / "data")
    with pytest.raises(actions.Locked) as refused:
        actions.decide(p._store, False)
    assert str(refused.value) == (
        "Anonymous usage tracking is set by the administrator of this machine and "
        "cannot be changed here."
    )
    actions.decide(p._store, True)  # the value in force: no change, not refused
    assert p._tracker.config.active


def test_the_settings_dialog_cannot_change_a_locked_setting(tmp_path, policy_file):
    policy_file("events: {webui_load: false}\nlocked: [events]")
    p = build(tmp_path / "data", {"enabled": True, "consent_version": 2})
    messages = []
    p._plugin_manager.send_plugin_message = lambda plugin, data: messages.append(data)
    p.on_settings_save({"events": {"webui_load": True}, "decline_new": True})
    assert p._tracker.config.events["webui_load"] is False
    assert p._tracker.config.decline_new is True, "the rest of the save is kept"
    assert messages == [{"type": "locked_refused", "settings": ["events"]}]


def test_unlocked_policy_values_are_defaults_the_owner_may_change(tmp_path, policy_file):
    policy_file("enabled: true\nevents: {webui_load: false}")
    p = build(tmp_path / "data")
    assert p._tracker.config.active and not p._tracker.config.events["webui_load"]
    assert p._settings.get(["consent_version"]) == catalog.CONSENT_VERSION
    p.on_settings_save({"events": {"webui_load": True}})
    assert p._tracker.config.events["webui_load"] is True
    p.on_settings_save({"enabled": False})
    assert p._tracker.config.active is False


def test_the_administrators_yes_accepts_the_installed_consent_version(
    tmp_path, policy_file
):
    policy_file("enabled: true\nlocked: [enabled]")
    p = build(tmp_path / "data", {"consent_version": 1})
    assert p._settings.get(["consent_version"]) == catalog.CONSENT_VERSION
    assert p._tracker.config.active and not p.is_wizard_required()


def test_with_decline_new_the_administrators_yes_keeps_what_was_accepted(
    tmp_path, policy_file
):
    policy_file("enabled: true\nlocked: [enabled]")
    p = build(tmp_path / "data", {"consent_version": 1, "decline_new": True})
    assert p._settings.get(["consent_version"]) == 1
    assert not p.is_wizard_required()
    p._tracker.tick()
    pong = next(r for r in p._tracker.delivery.queued() if r.name == "pong")
    assert not any(f.startswith(("stats_", "feature_")) for f in pong.fields)


def test_an_unusable_policy_sends_nothing_and_hands_back_a_no(tmp_path, policy_file):
    policy_file("enabled: [true")
    p = build(tmp_path / "data", {"enabled": True, "consent_version": 2},
              bundled={"enabled": True})  # fmt: skip
    assert p.status()["policy"]["problem"]["english"].startswith("The policy file is")
    p.on_event("PrintDone", JOB)
    p._tracker.tick()
    assert p._tracker.delivery.queued() == [] and not p.is_wizard_required()
    p.on_plugin_pending_uninstall()
    assert p._settings.global_get(["plugins", "tracking", "enabled"]) is False


def test_preview_lists_what_decline_new_declines_apart_from_what_is_sent(tmp_path):
    p = build(tmp_path, {"enabled": True, "consent_version": 1, "decline_new": True})
    pong = next(i for i in p._tracker.preview() if i["report"] == "pong")
    assert {"stats_users", "feature_webcam"} <= set(pong["declined"])
    assert not any(f.startswith(("stats_", "feature_")) for f in pong["fields"])
    assert pong["sent"] is True and "plugins" in pong["fields"]


def reported_once(tmp_path, receiver):
    """A plugin that reports to ``receiver`` (with a short backoff) and has delivered
    one report there: the server holds something it may be asked to delete."""
    fast = {"backoff_base": 0.05, "backoff_max": 0.2}
    p = build(tmp_path, {"enabled": True, "consent_version": 2,
                         "server": receiver.url, "delivery": fast})  # fmt: skip
    p._plugin_manager.send_plugin_message = lambda *a: None
    p._tracker.delivery.start()
    p.on_event("PrintStarted", JOB)
    eventually(lambda: p._tracker.delivery.status()["delivered"] == 1)
    return p


def test_switching_off_with_forget_keeps_one_deletion_request(tmp_path, receiver):
    p = reported_once(tmp_path, receiver)
    instance = p._settings.get(["unique_id"])
    receiver.set_mode("error")  # the next report waits when "off" comes
    p.on_event("PrintDone", JOB)
    p.on_settings_save({"enabled": False, "ask_server_to_delete": True})
    assert p._tracker.delivery.queued() == []
    assert p._tracker.delivery.status()["deletion"]["state"] == "requested"
    assert "ask_server_to_delete" not in (p._settings.get_all_data() or {})
    receiver.set_mode("ok")
    eventually(lambda: p._tracker.delivery.status()["deletion"]["state"] == "confirmed")
    p._tracker.delivery.shutdown(deadline=0.2)
    (hit,) = [h for h in receiver.hits if h.method == "DELETE"]
    assert (hit.instance, hit.event) == (instance, "")
    assert [h.event for h in receiver.hits] == ["print_started", ""]


def test_takeover_under_a_locked_decision_adopts_only_the_id(tmp_path, policy_file):
    policy_file("enabled: true\nlocked: [enabled]")
    p = build(tmp_path, plugin_manager=WithBundled(TrackingPlugin()),
              bundled={"enabled": False, "unique_id": BUNDLED_ID})  # fmt: skip
    assert p._tracker.config.enabled is True and p._tracker.config.active
    assert p._settings.get(["enabled"], incl_defaults=False) is None, (
        "the administrator decides: the bundled decision is not stored under the lock"
    )
    assert p._settings.get(["unique_id"]) == BUNDLED_ID


def test_takeover_adopts_the_bundled_no_over_an_unlocked_policy_yes(
    tmp_path, policy_file
):
    # Not locked, the policy's yes is only this machine's default: the owner's "no",
    # given to the bundled plugin, is their decision, and nothing goes out under it.
    policy_file("enabled: true")
    p = build(tmp_path, plugin_manager=WithBundled(TrackingPlugin()),
              bundled={"enabled": False, "unique_id": BUNDLED_ID})  # fmt: skip
    assert p._tracker.config.enabled is False and not p._tracker.config.active
    assert p._settings.get(["unique_id"]) == BUNDLED_ID
    assert p.is_wizard_required() is False


# The owner's own choice over a policy value that is not locked ------------------------


def stored(p):
    """What config.yaml holds for the plugin: what a restart starts from."""
    return p._settings.get_all_data(merged=False, incl_defaults=False) or {}


def test_an_owners_no_survives_a_later_unlocked_default_of_yes(tmp_path, policy_file):
    policy_file("enabled: false")
    p = build(tmp_path / "data")
    actions.decide(p._store, False)  # the owner says no, though it is the default here
    policy_file("enabled: true")  # the image's next version changes the default
    again = build(tmp_path / "data", stored(p))
    assert again._tracker.config.enabled is False and not again._tracker.config.active


def test_an_owners_switch_in_the_settings_dialog_survives_a_later_unlocked_default(
    tmp_path, policy_file
):
    policy_file("events: {webui_load: false}")
    p = build(tmp_path / "data", {"enabled": True, "consent_version": 2,
                                  "events": {"webui_load": True}})  # fmt: skip
    p.on_settings_save({"events": {"webui_load": False}})  # the owner's own "off"
    p.on_settings_save({"decline_new": True})  # a later save of something else
    assert p._tracker.config.events["webui_load"] is False
    policy_file("events: {webui_load: true}")
    again = build(tmp_path / "data", stored(p))
    assert again._tracker.config.events["webui_load"] is False


def test_a_dialog_save_that_repeats_the_unlocked_defaults_stores_none_of_them(
    tmp_path, policy_file
):
    # The dialog sends what it shows: values the owner left as the policy set them
    # stay the administrator's, who may change them later.
    policy_file("enabled: true\nevents: {webui_load: false}")
    p = build(tmp_path / "data")
    shown = p._store.data()
    assert (shown["enabled"], shown["events"]["webui_load"]) == (True, False)
    p.on_settings_save({"enabled": True, "events": {"webui_load": False},
                        "decline_new": True})  # fmt: skip
    assert "enabled" not in stored(p)
    assert "webui_load" not in stored(p).get("events", {})
    policy_file("enabled: false\nevents: {webui_load: true}")
    again = build(tmp_path / "data", stored(p))
    assert again._tracker.config.enabled is False
    assert again._tracker.config.events["webui_load"] is True
    assert again._tracker.config.decline_new is True


def test_the_cli_and_the_server_read_the_owners_choice_the_same_way(
    tmp_path, policy_file
):
    policy_file("enabled: false")
    p = build(tmp_path / "data")
    on_the_cli = cli.ConfigStore(p._settings.settings, p._store.policy)
    actions.decide(on_the_cli, False)  # config.yaml, as `disable` writes it
    policy_file("enabled: true")
    machine = settings.load_policy("", os.environ)
    again = build(tmp_path / "data", stored(p))
    assert cli.ConfigStore(p._settings.settings, machine).get("enabled") is False
    assert again._store.get("enabled") is False and not again._tracker.config.active


def test_a_deletion_for_an_old_id_on_an_old_server_stays_out_of_the_log(
    tmp_path, receiver, caplog
):
    # Waiting from before a restart: asked after a Reset ID, to the server the owner
    # used then ("localhost": another name for the receiver). Neither is the id or
    # the server of now, which the log filter knew until then.
    old_server = receiver.url.replace("127.0.0.1", "localhost")
    files.write_deletion_request(str(tmp_path), instance_url(old_server, OLD))
    p = build(tmp_path, {"enabled": False, "server": receiver.url})
    caplog.set_level(logging.DEBUG, logger="urllib3")
    p._tracker.delivery.start()
    eventually(lambda: p._tracker.delivery.status()["deletion"]["state"] == "confirmed")
    p._tracker.delivery.shutdown(deadline=0.2)
    assert [h.instance for h in receiver.deletes()] == [OLD]
    logged = caplog.text
    assert '"DELETE /track/' in logged, "urllib3 logged the request"
    assert OLD not in logged and "localhost" not in logged


def test_asking_the_server_to_delete_twice_sends_one_delete(tmp_path, receiver):
    p = reported_once(tmp_path, receiver)
    receiver.set_mode("error")  # the server is down while the owner asks, and asks
    p._command("decide", {"enabled": False, "forget": True})
    p._command("decide", {"enabled": False, "forget": True})
    p.on_settings_save({"enabled": False, "ask_server_to_delete": True})
    assert len(files.deletion_requests(str(tmp_path))) == 1
    receiver.set_mode("ok")
    eventually(lambda: p._tracker.delivery.status()["deletion"]["state"] == "confirmed")
    p._tracker.delivery.shutdown(deadline=0.2)
    assert [h.answered for h in receiver.deletes()].count(200) == 1


def test_a_cli_deletion_request_waits_while_config_yaml_cannot_be_reloaded(tmp_path):
    p = build(tmp_path, {"enabled": True, "consent_version": 2})
    # What `disable --forget` writes: "off" in config.yaml, then the request.
    config = written_by_the_cli(p, enabled=False)
    files.write_deletion_request(str(tmp_path), "https://tracking.example.org/track/x/")
    real, failing = config.load, [True]

    def load(*args, **kwargs):
        if failing:
            raise OSError("config.yaml is being written")
        return real(*args, **kwargs)

    config.load = load
    try:
        p._tracker.tick()
        # Still on: the DELETE must not go while reports may follow it.
        assert p._tracker.config.active
        assert p._tracker.delivery.status()["deletion"] is None
        failing.clear()
        p._tracker.tick()
    finally:
        del config.load
    assert not p._tracker.config.active
    assert p._tracker.delivery.status()["deletion"]["state"] == "requested"


def test_a_refused_decision_leaves_decline_new_as_it_was(tmp_path, policy_file):
    policy_file("enabled: true\nlocked: [enabled]")
    p = build(tmp_path / "data")
    with pytest.raises(actions.Locked):
        p._command("decide", {"enabled": False, "decline_new": True})
    assert p._store.get("decline_new") is False


def test_decline_new_is_accepted_only_with_a_decision(tmp_path):
    p = build(tmp_path)
    p._is_admin = lambda: True
    with flask.Flask(__name__).test_request_context():
        with pytest.raises(werkzeug.exceptions.BadRequest):
            p.on_api_command("reset_id", {"decline_new": True})
        p.on_api_command("decline_update", {"decline_new": True})
    assert p._store.get("decline_new") is True


def test_an_instance_that_never_delivered_anything_never_asks_for_deletion(
    tmp_path, receiver, policy_file
):
    # Off by the policy from its first start: the server never got its id, and must
    # not get it now, whatever the owner ticks.
    policy_file("enabled: false")
    p = build(tmp_path / "data", {"server": receiver.url})
    p._plugin_manager.send_plugin_message = lambda *a: None
    p._command("decide", {"enabled": False, "forget": True})
    p.on_settings_save({"enabled": False, "ask_server_to_delete": True})
    assert files.deletion_requests(str(tmp_path / "data")) == []
    assert p.status()["can_ask_deletion"] is False
    assert p.get_wizard_details()["can_ask_deletion"] is False


def test_once_a_report_was_delivered_the_owner_may_ask_for_deletion(tmp_path, receiver):
    p = build(tmp_path, {"enabled": True, "consent_version": 2, "server": receiver.url})
    assert p.status()["can_ask_deletion"] is False, "nothing delivered yet"
    p._tracker.delivery.start()
    p.on_event("PrintDone", JOB)
    eventually(lambda: p._tracker.delivery.status()["delivered"] == 1)
    p._tracker.delivery.shutdown(deadline=0.2)
    assert p.status()["can_ask_deletion"] is True
    assert p.get_wizard_details()["can_ask_deletion"] is True
    p._command("reset_id", {})
    assert p.status()["can_ask_deletion"] is False, "the new id sent nothing yet"


def test_every_environment_key_of_the_collectors_document_has_a_label_in_the_cli():
    from tracking_collector.publish import own_data

    document = {"environment": {"achievements": ["first_print", "night_owl"]}}
    assert "    Achievements: first_print, night_owl" in cli._server_data_text(document)
    keys = set(own_data.ENVIRONMENT) | {"achievements"}
    assert keys == {k for k, _label in server_view.ENVIRONMENT}
