"""The owner's journey in a real OctoPrint 1.11.8: install the built archive through the
Plugin Manager, enable tracking as the wizard does, print on the virtual printer, use
the CLI, switch off; checked at a real loopback receiver.

The server runs from its own virtual environment, which has OctoPrint but not this
plugin, so that the Plugin Manager really installs it. The tests in this module build
on each other, in order, like the owner's afternoon.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

from harness.octoprint import ADMIN, USER, OctoPrint, copy_basedir, octoprint_cli
from harness.receiver import Receiver

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GCODE = "\n".join(
    ["; My Secret Benchy", "G28", "G90", "M104 S0"]
    + [f"G1 X{x} Y{x} F6000" for x in range(1, 30)]
    + ["G4 P1500", "M400", "M84", ""]
)
SECRETS = ("Secret", "Benchy", "gcode", ADMIN[0], USER[0])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def server_python(tmp_path_factory):
    """A virtual environment with OctoPrint 1.11.8 only."""
    target = tmp_path_factory.mktemp("octoprint-venv")
    venv.create(target, with_pip=True)
    python = str(target / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "octoprint==1.11.8"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return python


@pytest.fixture(scope="module")
def journey(tmp_path_factory, template_basedir, server_python):
    receiver = Receiver().start()
    basedir = copy_basedir(template_basedir, tmp_path_factory.mktemp("journey") / "base")
    server = OctoPrint(basedir, receiver.url, python=server_python)
    state = {"server": server, "receiver": receiver}
    yield state
    try:
        server.stop()
    finally:
        receiver.stop()


def hits_after(receiver, t):
    return [h for h in receiver.hits if h.time > t]


def test_1_installs_from_its_built_archive_through_the_plugin_manager(journey, wheel):
    server = journey["server"].start()
    s = server.session()
    assert server.api(s, "GET", "/api/plugin/usage_tracking").status_code == 404
    with open(wheel, "rb") as f:
        r = s.post(
            server.url + "/plugin/pluginmanager/upload_file",
            files={"file": (wheel.name, f)},
            timeout=60,
        )
    assert r.status_code == 200, r.text
    # Either way OctoPrint words it, the install finished and wants a restart.
    server.wait_for_log("The plugin was installed successfully", timeout=180)
    # The restart the Plugin Manager asks for.
    server.stop()
    server.start()
    s = server.session()
    status = server.api(s, "GET", "/api/plugin/usage_tracking").json()
    assert status["enabled"] is None and status["wizard_required"] is True
    plugins = server.api(s, "GET", "/plugin/pluginmanager/plugins").json()["plugins"]
    ours = next(p for p in plugins if p["key"] == "usage_tracking")
    assert ours["enabled"] is True
    assert journey["receiver"].attempts == [], "nothing is sent before the owner decides"


def test_2_enabling_as_the_wizard_does_starts_reports(journey):
    server, receiver = journey["server"], journey["receiver"]
    s = server.session()
    r = server.api(s, "POST", "/api/plugin/usage_tracking",
                   json={"command": "decide", "enabled": True})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["active"] is True
    receiver.wait_for_event("startup")
    receiver.wait_for_event("ping")
    receiver.wait_for_event("pong")
    assert server.config["plugins"]["usage_tracking"]["enabled"] is True


def test_3_a_print_and_a_cancelled_print_on_the_virtual_printer(journey):
    server, receiver = journey["server"], journey["receiver"]
    s = server.session()
    server.connect_printer(s)
    connected = receiver.wait_for_event("printer_connected")[0]
    assert connected.fields["firmware_name"].startswith("Virtual Marlin")
    assert connected.fields["printer_port"] == "VIRTUAL"

    r = server.api(
        s,
        "POST",
        "/api/files/local",
        files={"file": ("My Secret Benchy.gcode", GCODE.encode())},
        data={"select": "true", "print": "true"},
    )
    assert r.status_code == 201, r.text
    journey["path"] = r.json()["files"]["local"]["path"]
    done = receiver.wait_for_event("print_done", timeout=60)[0]
    assert int(done.fields["elapsed"]) >= 1
    started = receiver.received("print_started")[0]
    assert started.fields["origin"] == "local"
    assert re.fullmatch(r"[0-9a-f]{40}", started.fields["file"])
    # Keyed with a local secret: the server, which knows the id, cannot test guesses.
    unique_id = server.config["plugins"]["usage_tracking"]["unique_id"]
    salted = hashlib.sha1((journey["path"] + unique_id).encode()).hexdigest()
    assert started.fields["file"] != salted

    r = server.api(s, "POST", "/api/job", json={"command": "start"})
    assert r.status_code == 204, r.text
    server.wait_until(s, "/api/job", lambda j: j["state"].startswith("Printing"),
                      what="second print running")  # fmt: skip
    r = server.api(s, "POST", "/api/job", json={"command": "cancel"})
    assert r.status_code == 204, r.text
    cancelled = receiver.wait_for_event("print_cancelled", timeout=60)[0]
    assert cancelled.fields["file"] == started.fields["file"]


def test_4_no_report_carries_a_file_name_path_or_user_name(journey):
    server, receiver = journey["server"], journey["receiver"]
    forbidden = SECRETS + (str(server.basedir), str(server.basedir.parent))
    assert receiver.hits
    for hit in receiver.hits:
        for name, value in hit.fields.items():
            for secret in forbidden:
                assert secret.lower() not in value.lower(), (hit.event, name, value)


def test_5_instance_id_and_server_are_never_in_octoprint_log(journey):
    server = journey["server"]
    log = server.log.read_text(errors="replace")
    unique_id = server.config["plugins"]["usage_tracking"]["unique_id"]
    assert unique_id not in log
    assert f"127.0.0.1:{journey['receiver'].port}" not in log
    # The file-hash key is made at first start in the data folder, and never logged.
    key = (server.basedir / "data" / "usage_tracking" / "file_hash.key").read_bytes()
    assert len(key) == 32 and key.hex() not in log


def test_6_cli_status_preview_and_sent_work_on_the_servers_basedir(journey):
    server, receiver = journey["server"], journey["receiver"]
    status = server.cli("plugins", "usage_tracking:status", "--json", "--show-id")
    data = json.loads(status.stdout[status.stdout.index("{") :])
    assert data["decision"] == "enabled"
    assert data["instance_id"] == server.config["plugins"]["usage_tracking"]["unique_id"]
    assert data["running_server"] == server.process.pid

    plain = server.cli("plugins", "usage_tracking:status").stdout
    assert "Tracking:        enabled" in plain
    assert data["instance_id"] not in plain, "the id only with --show-id"

    out = server.cli("plugins", "usage_tracking:preview", "--json").stdout
    preview = {p["report"]: p for p in json.loads(out[out.index("[") :])}
    assert preview["startup"]["fields"] == receiver.received("startup")[0].fields
    # Time- and state-dependent values differ between the CLI and the running server.
    varying = {"octoprint_uptime", "printer_state", "achievements"}

    def stable(fields):
        return {k: v for k, v in fields.items() if k not in varying}

    assert set(preview["ping"]["fields"]) == set(receiver.received("ping")[0].fields)
    assert set(preview["pong"]["fields"]) == set(receiver.received("pong")[0].fields)
    # A file was uploaded since the server's pong: compare counts with what the server
    # would build now.
    s = server.session()
    built = server.api(s, "GET", "/api/plugin/usage_tracking?what=preview").json()
    server_pong = next(p for p in built["preview"] if p["report"] == "pong")
    assert stable(preview["pong"]["fields"]) == stable(server_pong["fields"])
    assert preview["pong"]["fields"]["stats_files"] == "1"

    text = server.cli("plugins", "usage_tracking:preview").stdout
    assert "print_done (GET) (sample values)" in text
    assert "# Print duration in whole seconds" in text

    sent = server.cli("plugins", "usage_tracking:sent", "-n", "200").stdout
    for event in ("startup", "ping", "print_done", "print_cancelled"):
        assert f"  {event}  delivered (200)" in sent


def test_7_shutdown_arrives_when_the_server_is_stopped_with_sigterm(journey):
    server, receiver = journey["server"], journey["receiver"]
    took = server.stop()
    assert receiver.received("shutdown")
    assert took < 20


def test_8_disable_through_the_cli_while_running_stops_everything(journey):
    server, receiver = journey["server"], journey["receiver"]
    starts = len(receiver.received("startup"))
    server.start()
    receiver.wait_for_event("startup", count=starts + 1)
    out = server.cli("plugins", "usage_tracking:disable").stdout
    assert "is disabled" in out and "picks this up within seconds" in out
    s = server.session()
    server.wait_until(s, "/api/plugin/usage_tracking", lambda st: st["active"] is False,
                      what="running server noticed the CLI")  # fmt: skip
    disabled_at = time.time()
    server.connect_printer(s)
    r = server.api(s, "POST", f"/api/files/local/{journey['path']}",
                   json={"command": "select", "print": True})  # fmt: skip
    assert r.status_code == 204, r.text
    server.wait_until(s, "/api/job", lambda j: j["state"] == "Operational"
                      and j["progress"]["completion"] == 100, timeout=60,
                      what="print after disable done")  # fmt: skip
    server.stop()
    assert hits_after(receiver, disabled_at) == []
    assert [t for t in receiver.attempts if t > disabled_at] == []


def test_9_enable_and_reset_id_through_the_cli(journey):
    server = journey["server"]
    old = server.config["plugins"]["usage_tracking"]["unique_id"]
    out = server.cli("plugins", "usage_tracking:enable").stdout
    assert "is enabled" in out and "next start" in out
    out = server.cli("plugins", "usage_tracking:reset-id").stdout
    assert "new instance id" in out
    assert "will be asked to forget the old id" in out
    # Kept for the server, which sends it: none runs now.
    assert journey["receiver"].deletes() == []
    new = server.config["plugins"]["usage_tracking"]["unique_id"]
    assert new != old and re.fullmatch(r"[0-9a-f-]{36}", new)
    assert server.config["plugins"]["usage_tracking"]["enabled"] is True
    journey["old_id"] = old


def test_10_uninstall_hands_the_decision_back_to_the_bundled_plugin(journey):
    server, receiver = journey["server"], journey["receiver"]
    ours = server.config["plugins"]["usage_tracking"]
    server.start()
    # The old id's deletion request is sent by the server, at its start.
    receiver.wait_for(lambda hits: any(h.method == "DELETE" for h in hits))
    assert [h.instance for h in receiver.deletes()] == [journey["old_id"]]
    s = server.session()
    r = server.api(s, "POST", "/api/plugin/pluginmanager",
                   json={"command": "uninstall", "plugin": "usage_tracking"})  # fmt: skip
    assert r.status_code == 200, r.text
    server.wait_for_log("Plugin usage_tracking uninstalled", timeout=120)
    plugins = server.config["plugins"]
    assert "tracking" not in plugins.get("_disabled", [])
    assert plugins["tracking"]["enabled"] is ours["enabled"]
    assert plugins["tracking"]["unique_id"] == ours["unique_id"]


def test_cli_reports_a_clear_error_for_an_unknown_command(template_basedir, tmp_path):
    result = octoprint_cli(
        template_basedir, "plugins", "usage_tracking:explode", check=False
    )
    assert result.returncode != 0
    assert "No such command" in result.stderr
