"""The CLI on a basedir where nothing was decided yet (no server running)."""

from __future__ import annotations

import json

import pytest
import yaml

from harness.octoprint import copy_basedir, octoprint_cli

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
