"""The exports read the way their real readers read them, from a real collector that
received a realistic fleet of about 100 instances over HTTP, at the default minimum
group (10), at 7 and 30 days, on SQLite and PostgreSQL; and the same window shows the
same totals in /api/stats, the dashboard and the exports.

The readers (their code, modelled in testkit/readers.py): data.octoprint.org's cards
(every map value summed and formatted as a number, histograms hovered, the OS
lookup), plugins.octoprint.org's ``plugins[id].instances``, ``.install_events`` and
``.versions[v].instances``, and shields.io's ``$.plugins.<id>.instances``.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
import requests
from testkit import open_test_store
from testkit.readers import check, is_number, leaves, shields_value
from testkit.realistic_fleet import PLUGINS, PRIVATE_PLUGINS, SERVE_ARGS, send_fleet
from testkit.schemas import SCHEMAS, check_schema
from testkit.servers import Server

from tracking_collector.publish import exports

PERIODS = (7, 30)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fleet(request, tmp_path_factory):
    """A collector (default minimum group) that received the fleet; its figures are
    kept for the whole module (one snapshot every view reads)."""
    tmp = tmp_path_factory.mktemp("readers")
    if request.param == "postgresql":
        db = request.getfixturevalue("pg_cluster").new_database()
    else:
        db = str(tmp / "readers.sqlite")
    server = Server([*SERVE_ARGS, "--stats-cache", "3600"], db, tmp / "server.log")
    try:
        instances = send_fleet(server.url)
        store = open_test_store(db)
        try:
            store.refresh(force=True)  # every acknowledged report in the rollups
        finally:
            store.close()
        yield server, instances
    finally:
        server.stop()


def get(server, path: str) -> requests.Response:
    response = requests.get(server.url + path, timeout=30)
    assert response.status_code == 200, (path, response.text)
    return response


def export(server, stem: str, days: int) -> dict:
    return get(server, f"/export/{stem}_{days}d.json").json()


@pytest.mark.parametrize("days", PERIODS)
@pytest.mark.parametrize("stem", exports.NAMES)
def test_every_value_a_reader_reads_is_a_json_number(fleet, stem, days):
    server, _ = fleet
    response = get(server, f"/export/{stem}_{days}d.json")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    doc = response.json()
    assert check(stem, doc) == []
    values = leaves(doc)
    assert values and all(is_number(v) for v in values), values
    check_schema(doc, SCHEMAS[stem])


@pytest.mark.parametrize("days", PERIODS)
def test_the_site_draws_every_card_of_the_fleet(fleet, days):
    """What makes each data.octoprint.org card draw something (not just not fail)."""
    server, instances = fleet
    stats = export(server, "instance_stats", days)
    assert stats["count"] == (len(instances) if days == 30 else stats["count"])
    assert 80 <= stats["count"] <= len(instances)
    assert len(stats["versions"]) >= 3
    # Every hour keeps its entry (the site drops the partial first and last one);
    # the fleet is active around the clock, so most hours show a count.
    hours = stats["histogram"]
    assert len(hours) == days * 24 + 1
    assert sum("count" in h for h in hours) > len(hours) / 2
    printing = export(server, "printing_stats", days)
    assert is_number(printing["total"]) and printing["total"] > 0
    python = export(server, "python_stats", days)
    assert python["versions"] and any("python3" in h for h in python["histogram"])
    server_env = export(server, "server_environment_stats", days)
    assert server_env["bits"] and "cores" in server_env
    for stem, field in (
        ("client_environment_stats", "browser"),
        ("client_environment_stats", "browser_version"),
        ("rpi_stats", "models"),
        ("firmware_stats", "names"),
    ):
        assert export(server, stem, days)[field], (stem, field)
    achievements = export(server, "achievements_stats", days)
    assert achievements["instances"] > 0 and len(achievements["unlocked"]) >= 5
    # The spelling answers the same document.
    assert export(server, "achievement_stats", days) == achievements


@pytest.mark.parametrize("days", PERIODS)
def test_plugins_octoprint_org_and_shields_read_numbers(fleet, days):
    server, _ = fleet
    doc = export(server, "plugin_stats", days)
    listed = [p for p, _, _ in PLUGINS] + [p for p, _, _ in PRIVATE_PLUGINS]
    page = {}
    for plugin_id in listed:
        # populate_additional_metadata.py's build_stats, verbatim in spirit.
        stats = doc["plugins"].get(plugin_id.lower()) or {
            "instances": 0,
            "install_events": 0,
        }
        instances = stats.get("instances", 0)
        installs = stats.get("install_events", 0)
        versions = {v: e["instances"] for v, e in stats.get("versions", {}).items()}
        assert is_number(instances) and is_number(installs)
        assert all(is_number(n) for n in versions.values())
        page[plugin_id] = instances
    # _layouts/plugin_list.html sorts every plugin by it: numbers only.
    assert sorted(page.values())
    assert is_number(shields_value(doc, "octolapse"))
    # In-house plugins on 1 to 3 instances: not named anywhere, badge "no result".
    text = requests.get(f"{server.url}/export/plugin_stats_{days}d.json").text
    for plugin_id, _, _ in PRIVATE_PLUGINS:
        assert shields_value(doc, plugin_id) is None
        assert plugin_id not in text
    assert doc["plugins_other"]["instances"] >= 10


def test_an_unknown_export_is_a_404_any_page_can_read(fleet):
    server, _ = fleet
    response = requests.get(f"{server.url}/export/instance_stats_8d.json", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_export"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def _rows(groups: list[dict]) -> dict:
    return {g["key"]: g["instances"] for g in groups}


def _map(instances_map: dict) -> dict:
    return {k: v["instances"] for k, v in instances_map.items()}


def test_the_same_window_shows_the_same_totals_everywhere(fleet):
    server, _ = fleet
    stats = get(server, "/api/stats").json()
    instance = export(server, "instance_stats", 7)
    plugins = export(server, "plugin_stats", 7)
    assert stats["_generated"] == instance["_generated"] == plugins["_generated"]
    week = stats["active"]["7d"]
    assert week["instances"] == instance["count"]
    assert _rows(week["by_version"]) == instance["versions"]
    assert week["by_version_other"] == instance["versions_other"]
    server_env = export(server, "server_environment_stats", 7)
    assert _rows(week["by_os"]) == _map(server_env["os"])
    assert week["by_os_other"] == server_env["os_other"]["instances"]
    firmware = export(server, "firmware_stats", 7)
    assert _rows(stats["firmware"]) == _map(firmware["names"])
    shown = {p: e["instances"] for p, e in plugins["plugins"].items()}
    assert _rows(stats["plugins"]).items() <= shown.items()
    assert stats["plugins_other"] == plugins["plugins_other"]["instances"]
    # Print outcomes: the days /api/stats shows are the print history's days, and
    # with the window's outcomes they add up (the hidden days' sum is what is left).
    printing = export(server, "printing_stats", 30)
    history = get(server, "/api/history/prints").json()["days"]
    assert stats["prints"]["per_day"] == history[-len(stats["prints"]["per_day"]) :]
    shown_done = sum(d.get("done", 0) for d in stats["prints"]["per_day"])
    assert shown_done <= printing["outcomes"]["done"]
    # The dashboard draws the same figures.
    page = get(server, "/").text
    tiles = [unescape(t) for t in re.findall(r'class="tile"><b>([^<]*)</b>', page)]
    assert tiles[:2] == [str(stats["active"]["24h"]["instances"]), str(week["instances"])]
    card = page.split("OctoPrint version (active 7 days)", 1)[1].split("</section>", 1)[0]
    bars = dict(re.findall(r"<title>([^<:]+): (\d+)</title>", card))
    assert {k: int(v) for k, v in bars.items()} == {
        **instance["versions"],
        "other": instance["versions_other"],
    }
