"""The machine policy file: parsed strictly, failing safe, never raising."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octoprint_tracking import settings as plugin_settings
from octoprint_tracking.core import catalog, policy
from octoprint_tracking.core.consent import Config

FARM = """
enabled: true
events:
  webui_load: false
  printjob: true
server: https://stats.farm.example/track/{id}/{event}/
locked: [enabled, events, server]
"""


def test_a_farm_policy_sets_and_locks_everything():
    p = policy.parse(FARM, "basedir")
    assert not p.failed
    assert (p.enabled, dict(p.events), p.locked) == (
        True, {"webui_load": False, "printjob": True}, {"enabled", "events", "server"},
    )  # fmt: skip
    assert p.server == "https://stats.farm.example/track/{id}/{event}/"


def test_an_empty_file_decides_nothing():
    p = policy.parse("# nothing yet\n", "basedir")
    assert not p.failed and p.values() == {} and p.locked == frozenset()


@pytest.mark.parametrize(
    "text,message",
    [
        ("enabled: true\n  bad: indent\n", "The policy file is not valid YAML (line 2)."),
        ("- enabled", "The policy file must hold settings as key: value lines."),
        ("enable: true", "Unknown key in the policy file: enable (known: enabled, "
                         "events, server, locked)."),
        ('enabled: "true"', "enabled must be true or false."),
        ("enabled:", "enabled must be true or false."),
        ("events: [printjob]", "events must map categories to true or false."),
        ("events: {print_job: false}", "Unknown category in events: print_job."),
        ("events: {printjob: 0}", "events.printjob must be true or false."),
        ("server: http://stats.farm.example/track/{id}/{event}/",
         "The tracking server must be an https:// address, or http:// to a loopback "
         "address, with {id} and {event} in it."),
        ("enabled: false\nlocked: enabled", "locked must be a list of enabled, events, "
                                            "server."),
        ("enabled: false\nlocked: [unique_id]", "locked must be a list of enabled, "
                                                "events, server."),
        ("enabled: false\nlocked: [server]",
         "locked names server, which the policy file does not set."),
    ],
)  # fmt: skip
def test_a_malformed_policy_fails_with_a_clear_message(text, message):
    p = policy.parse(text, "basedir")
    assert p.failed and p.problem.english() == message
    assert p.values() == {} and p.locked == frozenset()


def test_the_message_of_a_refused_server_never_repeats_it():
    p = policy.parse("server: http://secret-stats.example/{id}/{event}", "basedir")
    assert "secret-stats" not in p.problem.english()


def test_a_failed_policy_sends_nothing_and_asks_nothing():
    p = policy.parse("enabled: maybe", "basedir")
    on = {"enabled": True, "unique_id": "0e4b4c5e-8d3f-4f7e-9a41-6b1f3b0b2c11",
          "consent_version": catalog.CONSENT_VERSION}  # fmt: skip
    config = plugin_settings.snapshot(plugin_settings.merged(on, p), {}, p.failed)
    assert config.policy_failed and config.silenced
    assert not config.active and not config.wizard_required


def test_locked_values_win_over_the_owners_and_unlocked_ones_are_defaults():
    p = policy.parse(
        "enabled: false\nserver: https://a.example/{id}/{event}\nlocked: [enabled]",
        "basedir",
    )
    mine = {"enabled": True, "server": "https://mine.example/{id}/{event}"}
    effective = plugin_settings.merged(mine, p)
    assert effective["enabled"] is False, "locked"
    assert effective["server"] == "https://mine.example/{id}/{event}", "not locked"
    assert plugin_settings.merged({}, p)["server"] == "https://a.example/{id}/{event}"


def test_locked_events_fix_every_switch_the_unnamed_ones_to_the_default():
    p = policy.parse("events: {webui_load: false}\nlocked: [events]", "basedir")
    mine = {"events": {"printjob": False, "webui_load": True}}
    events = plugin_settings.merged(mine, p)["events"]
    assert events == {**catalog.default_events(), "webui_load": False}


def test_only_a_change_of_a_locked_setting_is_refused():
    p = policy.parse(FARM, "basedir")
    effective = p.overlay({"enabled": True})
    assert p.locked_changes(effective, {"enabled": True}) == []
    assert p.locked_changes(effective, {"enabled": False}) == ["enabled"]
    assert p.locked_changes(effective, {"events": {"printjob": True}}) == []
    assert p.locked_changes(effective, {"events": {"webui_load": True}}) == ["events"]
    assert p.locked_changes(effective, {"decline_new": True}) == []


def test_the_policy_file_in_the_basedir_is_read(tmp_path):
    (tmp_path / plugin_settings.POLICY_NAME).write_text(FARM)
    p = plugin_settings.load_policy(str(tmp_path), {})
    assert p.source == "basedir" and p.enabled is True


def test_without_a_policy_file_there_is_no_policy(tmp_path):
    assert plugin_settings.load_policy(str(tmp_path), {}) is policy.NONE


def test_the_variable_names_another_file_which_then_must_exist(tmp_path):
    named = tmp_path / "farm.yaml"
    environ = {plugin_settings.POLICY_ENV: str(named)}
    missing = plugin_settings.load_policy(str(tmp_path), environ)
    assert missing.failed and missing.source == "environment"
    assert "OCTOPRINT_TRACKING_POLICY does not exist" in missing.problem.english()
    named.write_text("enabled: false\nlocked: [enabled]\n")
    assert plugin_settings.load_policy(str(tmp_path), environ).locked == {"enabled"}


def test_a_relative_path_in_the_variable_is_taken_from_the_basedir(tmp_path, monkeypatch):
    # The server and the CLI run in different working directories; the basedir is
    # the one place both know.
    basedir, elsewhere = tmp_path / "basedir", tmp_path / "elsewhere"
    for folder, text in ((basedir, "enabled: false\nlocked: [enabled]\n"),
                         (elsewhere, "enabled: true\n")):  # fmt: skip
        folder.mkdir()
        (folder / "farm.yaml").write_text(text)
    monkeypatch.chdir(elsewhere)
    p = plugin_settings.load_policy(
        str(basedir), {plugin_settings.POLICY_ENV: "farm.yaml"}
    )
    assert (p.enabled, p.locked) == (False, {"enabled"})


@pytest.mark.parametrize(
    "content,message",
    [(b"\xff\xfeenabled", "not UTF-8"), (b"#" * 70_000, "too large")],
)
def test_an_unreadable_policy_file_fails_safe(tmp_path, content, message):
    (tmp_path / plugin_settings.POLICY_NAME).write_bytes(content)
    p = plugin_settings.load_policy(str(tmp_path), {})
    assert p.failed and message in p.problem.english()


def test_a_policy_path_that_is_a_folder_fails_safe_and_names_no_path(tmp_path):
    (tmp_path / plugin_settings.POLICY_NAME).mkdir()
    p = plugin_settings.load_policy(str(tmp_path), {})
    assert p.problem.english() == "The policy file could not be read (IsADirectoryError)."
    assert str(tmp_path) not in plugin_settings.describe_policy(p)


def test_the_log_line_names_what_is_set_and_locked_but_no_value():
    line = plugin_settings.describe_policy(policy.parse(FARM, "environment"))
    assert line == (
        "Usage tracking policy (the file named in OCTOPRINT_TRACKING_POLICY): "
        "sets enabled, events, server; locks enabled, events, server"
    )
    assert "farm.example" not in line


yaml_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(policy.KEYS + catalog.CATEGORY_KEYS), st.text(max_size=8)
            ),
            inner,
            max_size=4,
        ),  # fmt: skip
    ),
    max_leaves=12,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=yaml_like)
def test_any_document_gives_a_policy_that_is_either_usable_or_failed(document):
    import yaml

    p = policy.parse(yaml.safe_dump(document), "basedir")
    assert isinstance(p, policy.Policy)
    if p.failed:
        assert p.values() == {} and not p.locked and p.problem.english()
    else:
        assert p.locked <= set(p.values())
        assert p.server is None or "{id}" in p.server
    Config.from_settings(p.overlay({}), None, p.failed)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.text(max_size=200))
def test_any_text_gives_a_policy_and_never_an_exception(text):
    assert isinstance(policy.parse(text, "basedir"), policy.Policy)


def test_the_readme_farm_example_decides_and_locks_everything():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    block = readme.split("<!-- policy-example:begin -->")[1].split(
        "<!-- policy-example:end -->"
    )[0]
    text = block.split("```yaml\n")[1].split("```")[0]
    p = policy.parse(text, "basedir")
    assert not p.failed, p.problem
    assert p.locked == set(policy.LOCKABLE) and p.enabled is True
    effective = plugin_settings.merged({"enabled": False}, p)
    config = plugin_settings.snapshot(effective, {}, p.failed)
    assert config.enabled is True and config.events["webui_load"] is False
