"""The CLI on a basedir where nothing was decided yet (no server running)."""

from __future__ import annotations

import functools
import json

import pytest
import yaml

from harness.octoprint import clean_env, copy_basedir, octoprint_cli
from octoprint_tracking.delivery import files
from octoprint_tracking.settings import POLICY_NAME

pytestmark = pytest.mark.e2e


@pytest.fixture
def basedir(template_basedir, tmp_path):
    return copy_basedir(template_basedir, tmp_path / "base")


def ours(basedir):
    config = yaml.safe_load((basedir / "config.yaml").read_text()) or {}
    return config.get("plugins", {}).get("usage_tracking", {})


def status(basedir):
    out = octoprint_cli(basedir, "plugins", "usage_tracking:status", "--json").stdout
    return json.loads(out[out.index("{") :])


def test_enable_on_an_undecided_basedir_is_saved(basedir):
    assert status(basedir)["decision"] == "undecided"
    result = octoprint_cli(basedir, "plugins", "usage_tracking:enable")
    assert "is enabled" in result.stdout and "next start" in result.stdout
    assert ours(basedir)["enabled"] is True
    assert ours(basedir)["consent_version"] == 2
    assert status(basedir)["decision"] == "enabled"


def test_disable_on_an_undecided_basedir_is_saved(basedir):
    octoprint_cli(basedir, "plugins", "usage_tracking:disable")
    assert ours(basedir)["enabled"] is False
    assert status(basedir)["decision"] == "disabled"


def test_sent_with_nothing_sent_says_so(basedir):
    out = octoprint_cli(basedir, "plugins", "usage_tracking:sent").stdout
    assert "Nothing sent yet." in out


def test_sent_rejects_a_count_below_one(basedir):
    result = octoprint_cli(
        basedir, "plugins", "usage_tracking:sent", "-n", "0", check=False
    )
    assert result.returncode == 2 and "Invalid value" in result.stderr


def test_preview_json_output_file_holds_exactly_the_json(basedir, tmp_path):
    # OctoPrint prints "Initializing settings & plugin subsystem..." on stdout first:
    # the file must hold nothing but the payloads.
    target = tmp_path / "preview.json"
    result = octoprint_cli(
        basedir, "plugins", "usage_tracking:preview", "--json", "--output", str(target)
    )
    items = json.loads(target.read_text(encoding="utf-8"))
    reports = {item["report"] for item in items}
    assert {"startup", "ping", "pong", "print_done"} <= reports
    assert "[" not in result.stdout, "the JSON goes to the file only"


def test_sent_json_output_file_holds_exactly_the_json(basedir, tmp_path):
    target = tmp_path / "sent.json"
    octoprint_cli(
        basedir, "plugins", "usage_tracking:sent", "--json", "--output", str(target)
    )
    assert json.loads(target.read_text(encoding="utf-8")) == []


def test_output_into_a_missing_folder_is_a_clear_error(basedir, tmp_path):
    target = tmp_path / "missing" / "preview.json"
    result = octoprint_cli(
        basedir, "plugins", "usage_tracking:preview", "--json", "--output", str(target),
        check=False,
    )  # fmt: skip
    assert result.returncode == 1 and "Could not write" in result.stderr


def write_config(basedir, values):
    config = yaml.safe_load((basedir / "config.yaml").read_text()) or {}
    config.setdefault("plugins", {})["usage_tracking"] = values
    (basedir / "config.yaml").write_text(yaml.safe_dump(config))


def test_decline_new_on_and_off_is_saved(basedir):
    out = octoprint_cli(basedir, "plugins", "usage_tracking:decline-new", "on").stdout
    assert "every later consent version is declined automatically" in out
    assert ours(basedir)["decline_new"] is True and status(basedir)["decline_new"] is True
    octoprint_cli(basedir, "plugins", "usage_tracking:decline-new", "off")
    assert ours(basedir)["decline_new"] is False
    wrong = octoprint_cli(
        basedir, "plugins", "usage_tracking:decline-new", "maybe", check=False
    )
    assert wrong.returncode == 2 and "Invalid value" in wrong.stderr


def test_disable_forget_on_an_undecided_basedir_asks_nothing(basedir):
    out = octoprint_cli(basedir, "plugins", "usage_tracking:disable", "--forget").stdout
    assert "Nothing is asked of the tracking server" in out
    assert not list((basedir / "data" / "usage_tracking").glob("deletion-*.json"))
    assert status(basedir)["deletion"] is None


def test_disable_forget_keeps_the_request_for_the_server_that_holds_something(
    basedir,
):
    instance = "0e4b4c5e-8d3f-4f7e-9a41-6b1f3b0b2c11"
    address = f"https://tracking.octoprint.org/track/{instance}/"
    folder = basedir / "data" / "usage_tracking"
    write_config(basedir, {"enabled": True, "consent_version": 2, "unique_id": instance})
    # Decided, but never delivered anything: its id is not sent to ask.
    assert status(basedir)["can_ask_deletion"] is False
    out = octoprint_cli(basedir, "plugins", "usage_tracking:disable", "--forget").stdout
    assert "this instance never sent anything to it" in out
    assert not list(folder.glob("deletion-*.json"))

    files.mark_delivered(str(folder), address)  # as a server that delivered there
    assert status(basedir)["can_ask_deletion"] is True
    out = octoprint_cli(basedir, "plugins", "usage_tracking:disable", "--forget").stdout
    assert "will be asked to delete what it holds about this instance" in out
    assert "takes effect at its next start" in out
    (request,) = folder.glob("deletion-*.json")
    assert json.loads(request.read_text())["address"] == address
    assert status(basedir)["deletion"]["state"] == "requested"


def test_disable_forget_under_a_kill_switch_says_the_request_waits(basedir):
    instance = "0e4b4c5e-8d3f-4f7e-9a41-6b1f3b0b2c11"
    folder = basedir / "data" / "usage_tracking"
    write_config(basedir, {"enabled": True, "consent_version": 2, "unique_id": instance})
    files.mark_delivered(str(folder), f"https://tracking.octoprint.org/track/{instance}/")
    silenced = functools.partial(octoprint_cli, basedir, env=clean_env(DO_NOT_TRACK="1"))
    out = silenced("plugins", "usage_tracking:disable", "--forget").stdout
    assert (
        "It waits while DO_NOT_TRACK is set: nothing at all is sent until it is cleared."
        in out
    )
    out = silenced("plugins", "usage_tracking:status").stdout
    assert "; waits while DO_NOT_TRACK is set" in out


def test_status_names_a_malformed_instance_id(basedir):
    write_config(basedir, {"enabled": True, "consent_version": 2, "unique_id": 12345})
    out = octoprint_cli(basedir, "plugins", "usage_tracking:status").stdout
    assert (
        "Instance id:     malformed: OctoPrint replaces it with a new one (a running "
        "server within seconds, else at its next start)" in out
    )
    assert status(basedir)["instance_id_valid"] is False


def test_the_cli_speaks_the_terminals_language(basedir):
    (basedir / POLICY_NAME).write_text("enabled: false\nlocked: [enabled]\n")
    german = clean_env(LANGUAGE="de")
    run = functools.partial(octoprint_cli, basedir, env=german, check=False)
    out = run("plugins", "usage_tracking:status").stdout
    # One column for the values, as wide as the longest German label needs.
    column = len("In der Warteschlange:")
    assert (
        "Statistik:".ljust(column)
        + " deaktiviert (vom Administrator dieses Rechners festgelegt)"
        in out
    )
    assert "Richtlinie:".ljust(column) + " usage_tracking_policy.yaml im Basis" in out
    assert "Einwilligungsversion:".ljust(column) + " 0 angenommen, 2 aktuell" in out
    refused = run("plugins", "usage_tracking:enable")
    assert refused.returncode == 1
    assert (
        "„Anonyme Nutzungsstatistik“ wird vom Administrator dieses Rechners "
        "festgelegt und kann hier nicht geändert werden." in refused.stderr
    )
    out = run("plugins", "usage_tracking:decline-new", "on").stdout
    assert "Neue Daten werden ab jetzt abgelehnt" in out
