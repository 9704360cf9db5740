"""The plugin in a real OctoPrint reports to the reference collector, and the instance
shows on its dashboard."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.octoprint import OctoPrint, copy_basedir, free_port

pytestmark = pytest.mark.e2e

COLLECTOR = Path(sys.executable).with_name("tracking-collector")


@pytest.fixture
def collector(tmp_path):
    port = free_port()
    # min-group 1: a single test instance may be shown; the default (10) hides it.
    process = subprocess.Popen(
        [str(COLLECTOR), "serve", "--host", "127.0.0.1", "--port", str(port),
         "--db", str(tmp_path / "collector.sqlite"), "--min-group", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/api/stats", timeout=2)
            break
        except requests.RequestException:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(20)


def test_an_instance_appears_on_the_collector_dashboard(
    collector, template_basedir, tmp_path
):
    basedir = copy_basedir(template_basedir, tmp_path / "base")
    config = {"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2}}}
    server = OctoPrint(basedir, collector + "/track/{id}/{event}/", config=config).start()
    try:
        s = server.session()
        server.connect_printer(s)
        deadline = time.monotonic() + 60
        while True:
            stats = requests.get(collector + "/api/stats", timeout=10).json()
            versions = {
                r["key"]: r["instances"] for r in stats["active"]["24h"]["by_version"]
            }
            firmware = {r["key"] for r in stats["firmware"]}
            if versions.get("1.11.8") == 1 and any("Virtual" in f for f in firmware):
                break
            assert time.monotonic() < deadline, stats
            time.sleep(0.3)
        page = requests.get(collector + "/", timeout=10).text
        assert "1.11.8" in page and "<svg" in page
    finally:
        server.stop()
