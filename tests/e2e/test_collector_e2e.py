"""The plugin in a real OctoPrint reports to the reference collector, and the instance
shows on its dashboard."""

from __future__ import annotations

import pytest
import requests

from harness.octoprint import OctoPrint, copy_basedir
from harness.wait import eventually

pytestmark = pytest.mark.e2e


def test_an_instance_appears_on_the_collector_dashboard(
    collector, template_basedir, tmp_path
):
    basedir = copy_basedir(template_basedir, tmp_path / "base")
    config = {"plugins": {"usage_tracking": {"enabled": True, "consent_version": 2}}}
    server = OctoPrint(basedir, collector + "/track/{id}/{event}/", config=config).start()
    try:
        s = server.session()
        server.connect_printer(s)

        def shown():
            stats = requests.get(collector + "/api/stats", timeout=10).json()
            versions = {
                r["key"]: r["instances"] for r in stats["active"]["24h"]["by_version"]
            }
            firmware = {r["key"] for r in stats["firmware"]}
            return versions.get("1.11.8") == 1 and any("Virtual" in f for f in firmware)

        eventually(shown, timeout=60, what="instance on the dashboard", interval=0.3)
        page = requests.get(collector + "/", timeout=10).text
        assert "1.11.8" in page and "<svg" in page
    finally:
        server.stop()
