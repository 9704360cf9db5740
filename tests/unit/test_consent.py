"""Every gate between a report and the network."""

from __future__ import annotations

import pytest

from octoprint_tracking.core import builders, catalog, model
from octoprint_tracking.core.consent import Config, gate
from octoprint_tracking.settings import KILL_SWITCHES, kill_switch

ON = {
    "enabled": True,
    "unique_id": "0e4b4c5e-8d3f-4f7e-9a41-6b1f3b0b2c11",
    "accepted": catalog.CONSENT_VERSION,
}
PRINT = model.make("print_done", origin="local", file="abc", elapsed=5)


def test_passes_when_enabled():
    assert gate(PRINT, Config(**ON)).fields == PRINT.fields


@pytest.mark.parametrize("enabled", [None, False])
def test_nothing_passes_unless_the_owner_said_yes(enabled):
    assert gate(PRINT, Config(**{**ON, "enabled": enabled})) is None


def test_nothing_passes_without_an_instance_id():
    assert gate(PRINT, Config(**{**ON, "unique_id": None})) is None


def test_category_switch_off_stops_its_reports():
    events = {**catalog.default_events(), "printjob": False}
    assert gate(PRINT, Config(**ON, events=events)) is None


def test_ping_has_no_switch_but_tracking_itself():
    ping = builders.ping(1, "OPERATIONAL")
    off = dict.fromkeys(catalog.CATEGORY_KEYS, False)
    assert gate(ping, Config(**ON, events=off)) is not None


def test_field_with_its_own_switch_is_removed_when_that_switch_is_off():
    pong = model.make("pong", version="1.11.8", achievements="a,b", stats_users=2)
    events = {**catalog.default_events(), "achievements": False}
    assert set(gate(pong, Config(**ON, events=events)).fields) == {
        "version",
        "stats_users",
    }


@pytest.mark.parametrize("name", KILL_SWITCHES)
def test_each_kill_switch_stops_everything(name):
    config = Config(**ON, kill=kill_switch({name: "true"}))
    assert config.kill == name
    assert gate(PRINT, config) is None
    assert config.wizard_required is False


@pytest.mark.parametrize("value", ["", "0", " "])
def test_empty_or_zero_is_not_a_kill_switch(value):
    assert kill_switch({"DO_NOT_TRACK": value}) is None


def test_fields_newer_than_the_accepted_consent_are_not_sent():
    pong = model.make(
        "pong", version="1.11.8", plugins="", stats_users=2, feature_webcam=True
    )
    sent = gate(pong, Config(**{**ON, "accepted": 1}))
    assert set(sent.fields) == {"version", "plugins"}


def test_a_yes_from_before_consent_versions_counts_as_version_1():
    config = Config.from_settings({"enabled": True, "unique_id": "x"}, None)
    assert config.accepted == 1
    assert config.wizard_required is True


def test_a_newer_consent_version_asks_again_until_accepted_or_declined():
    base = {"enabled": True, "unique_id": "x"}
    assert Config.from_settings({**base, "consent_version": 1}, None).wizard_required
    assert not Config.from_settings(
        {**base, "consent_version": catalog.CONSENT_VERSION}, None
    ).wizard_required
    assert not Config.from_settings(
        {**base, "consent_version": 1, "consent_declined": catalog.CONSENT_VERSION}, None
    ).wizard_required


def test_undecided_needs_the_wizard_and_a_no_does_not():
    assert Config.from_settings({"enabled": None}, None).wizard_required
    assert not Config.from_settings({"enabled": False}, None).wizard_required


def test_settings_of_the_wrong_type_are_read_safely():
    config = Config.from_settings(
        {"enabled": "yes", "unique_id": 5, "events": "all", "consent_version": "2"}, None
    )
    assert (config.enabled, config.unique_id, config.accepted) == (None, None, 0)
    assert config.active is False


def test_undeclared_fields_never_pass_the_gate():
    rogue = model.Report("print_done", {"origin": "local", "filename": "secret.gcode"})
    assert gate(rogue, Config(**ON)).fields == {"origin": "local"}


def test_decline_new_keeps_what_was_accepted_and_never_asks_for_more():
    config = Config.from_settings(
        {"enabled": True, "unique_id": ON["unique_id"], "consent_version": 1,
         "decline_new": True}, None,
    )  # fmt: skip
    assert config.declines(catalog.CONSENT_VERSION) and not config.declines(1)
    assert config.wizard_required is False and config.active
    pong = model.make("pong", version="1.11.8", stats_users=2, feature_webcam=True)
    assert gate(pong, config).fields == {"version": "1.11.8"}


def test_an_owner_who_has_not_answered_yet_is_asked_and_declines_nothing():
    config = Config.from_settings({"enabled": True, "consent_version": 1}, None)
    assert config.wizard_required and not config.declines(catalog.CONSENT_VERSION)


@pytest.mark.parametrize("value", [12345, "12345", "not-a-uuid", "", ["x"], None])
def test_an_instance_id_that_is_no_uuid_is_no_id(value):
    config = Config.from_settings({**ON, "enabled": True, "unique_id": value}, None)
    assert config.unique_id is None and not config.active
