"""Exports, history, /metrics and an instance's own data, over HTTP, for a known fleet.

A real ``tracking-collector serve`` receives the simulated fleet of ``known_fleet.py``;
every figure checked here is one the fleet was built to produce.
"""

from __future__ import annotations

import json

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from testkit import hold, new_id
from testkit.known_fleet import (
    INSTALLED_OCTOLAPSE,
    OCTOLAPSE,
    OCTOPIUPTODATE,
    PI_BUILD,
    PRINT_SECONDS,
    PRINTED,
    SIZE,
    THEMEIFY,
    fleet_server_fixture,  # noqa: F401 - used by name
    reports_sent,
)
from testkit.schemas import SCHEMAS, check_schema
from testkit.servers import past_fast_path

from tracking_collector.publish import exports


def get(server, path: str) -> requests.Response:
    return requests.get(server.url + path, timeout=20)


@pytest.mark.parametrize("days", [7, 30])
def test_instance_stats_counts_versions_and_an_hourly_peak_of_the_whole_fleet(
    fleet_server, days
):
    server, _ = fleet_server
    doc = get(server, f"/export/instance_stats_{days}d.json").json()
    assert doc["count"] == SIZE
    # 1.10.3 and 1.9.3 (two instances each) are folded, and with them 1.11.7 (12):
    # a remainder of 4 would show those four.
    assert doc["versions"] == {"1.11.8": 24}
    assert (doc["versions_other"], doc["versions_unknown"]) == (16, 0)
    counts = [h["count"] for h in doc["histogram"] if "count" in h]
    # Every instance was active in the same hour: the peak is the whole fleet.
    assert max(counts) == SIZE
    assert len(doc["histogram"]) >= days * 24


def test_plugin_stats_count_instances_versions_and_installs(fleet_server):
    server, _ = fleet_server
    plugins = get(server, "/export/plugin_stats_30d.json").json()["plugins"]
    assert plugins["octolapse"]["instances"] == len(OCTOLAPSE)
    assert plugins["octolapse"]["versions"]["0.4.5"]["instances"] == len(OCTOLAPSE)
    # Distinct installing instances, as the original exports counted them.
    assert plugins["octolapse"]["install_events"] == len(INSTALLED_OCTOLAPSE)
    assert plugins["themeify"]["instances"] == len(THEMEIFY)
    assert "install_events" not in plugins["themeify"]
    assert list(plugins) == ["octolapse", "themeify"]


def test_printing_stats_count_outcomes(fleet_server):
    server, _ = fleet_server
    doc = get(server, "/export/printing_stats_7d.json").json()
    assert doc["instances"] == len(PRINTED)
    assert doc["outcomes"] == {
        "started": len(PRINTED),
        "done": 10,
        "failed": 2,
        "cancelled": 0,
    }
    assert doc["success_rate"] == round(10 / 12, 4)
    # Every finished print (10 done, 2 failed) lasted PRINT_SECONDS and finished
    # in one hour: the total and that hour's bucket; every other hour had no
    # printer and shows 0.
    assert doc["total"] == len(PRINTED) * PRINT_SECONDS
    shown = [h["count"] for h in doc["histogram"] if h.get("count")]
    assert shown == [len(PRINTED) * PRINT_SECONDS]
    assert all("count" in h for h in doc["histogram"])


@pytest.mark.parametrize("days", [7, 30])
def test_rpi_and_client_exports_count_builds_browsers_and_client_systems(
    fleet_server, days
):
    server, _ = fleet_server
    rpi = get(server, f"/export/rpi_stats_{days}d.json").json()
    assert rpi["octopiuptodate_builds"] == {PI_BUILD: {"instances": len(OCTOPIUPTODATE)}}
    unknown = {"instances": SIZE - len(OCTOPIUPTODATE)}
    assert rpi["octopiuptodate_builds_unknown"] == unknown
    client = get(server, f"/export/client_environment_stats_{days}d.json").json()
    # The 10 that never loaded the web UI: apart, not a key of the maps.
    ten = {"instances": 10}
    assert client["browser"] == {"chrome": {"instances": 20}, "firefox": ten}
    assert client["browser_unknown"] == ten
    assert client["browser_version"] == {
        "chrome/120": {"instances": 20},
        "firefox/121": ten,
    }
    assert client["browser_version_unknown"] == ten
    assert client["os"] == {"windows": {"instances": 15}, "linux": {"instances": 15}}
    assert client["os_unknown"] == ten


@pytest.mark.parametrize("name", exports.export_names(aliases=True))
def test_every_export_answers_in_its_published_shape(fleet_server, name):
    server, _ = fleet_server
    response = get(server, f"/export/{name}.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    # Browsers on other sites (data.octoprint.org's charts) may read it.
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    check_schema(response.json(), SCHEMAS[exports.parse_name(name)[0]])


def test_unknown_export_is_a_json_404_any_page_can_read(fleet_server):
    server, _ = fleet_server
    response = get(server, "/export/instance_stats_8d.json")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_export"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_history_series_end_with_the_fleet(fleet_server):
    server, _ = fleet_server
    versions = get(server, "/api/history/versions").json()
    check_schema(versions, "VersionHistory")
    assert len(versions["days"]) == 90
    assert max(d.get("instances", 0) for d in versions["days"]) == SIZE

    adoption = get(server, "/api/history/plugins/OctoLapse").json()
    check_schema(adoption, "PluginHistory")
    assert adoption["plugin"] == "octolapse"
    assert len(OCTOLAPSE) in [d.get("instances") for d in adoption["days"]]

    prints = get(server, "/api/history/prints").json()
    check_schema(prints, "PrintHistory")
    assert sum(d.get("done", 0) for d in prints["days"]) == 10
    assert get(server, "/api/history/plugins/a%2Fb").status_code in (400, 404)


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_are_prometheus_text_with_reports_and_fleet_gauges(fleet_server):
    server, fleet = fleet_server
    assert get(server, f"/track/{new_id()}/no%20such/").status_code == 400
    response = get(server, "/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    families = _families(response.text)
    accepted = families["tracking_collector_reports_accepted"].samples
    assert [s.value for s in accepted if s.name.endswith("_total")] == [
        reports_sent(fleet)
    ]
    refused = {
        s.labels["reason"]: s.value
        for s in families["tracking_collector_reports_refused"].samples
        if s.name.endswith("_total")
    }
    assert refused["invalid_event"] >= 1
    active = {
        s.labels["window"]: s.value
        for s in families["tracking_collector_active_instances"].samples
    }
    assert active == {"24h": SIZE, "7d": SIZE}
    commits = families["tracking_collector_commit_seconds"].samples
    assert any(s.name.endswith("_count") and s.value > 0 for s in commits)
    assert "tracking_collector_writer_queue_depth" in families


def test_own_data_shows_that_instance_and_nothing_else(fleet_server):
    server, fleet = fleet_server
    mine = fleet[0]
    response = get(server, f"/track/{mine.id.upper()}/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    # No other site's page may read it from the owner's browser.
    assert "Access-Control-Allow-Origin" not in response.headers
    doc = response.json()
    check_schema(doc, "OwnData")
    assert doc["instance_id"] == mine.id
    assert doc["environment"]["version"] == mine.version
    assert {p["id"] for p in doc["environment"]["plugins"]} == {"octolapse"}
    # The environment columns added with schema 2 are the owner's to see as well.
    assert doc["environment"]["octopiuptodate_build"] == PI_BUILD
    assert doc["environment"]["browser_version"] == "chrome/120"
    assert doc["environment"]["client_os"] == "windows"
    assert doc["environment"]["achievements"] is None  # its pongs listed none
    assert [e["event"] for e in doc["events"]] == ["install_plugin"]
    assert doc["days"] and doc["days"][-1]["prints"]["done"] == 1
    # Its print finished in the previous hour, with the seconds it reported.
    [(hour, seconds)] = doc["days"][-1]["finished_print_seconds"].items()
    assert seconds == PRINT_SECONDS and 0 <= int(hour) <= 23
    text = json.dumps(doc)
    assert not any(other.id in text for other in fleet[1:])
    # No address of any kind (the senders came from loopback).
    assert "127.0.0.1" not in text


def test_own_data_of_unknown_and_invalid_ids(fleet_server):
    server, _ = fleet_server
    unknown = get(server, f"/track/{new_id()}/")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_instance"
    invalid = get(server, "/track/not-a-uuid/")
    assert invalid.status_code == 400
    assert invalid.json()["error"] == "invalid_instance_id"


def test_own_data_is_rate_limited_per_instance(fleet_server):
    server, _ = fleet_server
    iid = new_id()
    statuses = [get(server, f"/track/{iid}/").status_code for _ in range(8)]
    assert statuses[0] == 404
    assert 429 in statuses
    limited = get(server, f"/track/{iid}/")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"] == "rate_limited"
    # Another instance is not affected by this one's limit.
    assert get(server, f"/track/{new_id()}/").status_code == 404


@pytest.mark.parametrize("backend", ["sqlite"])
def test_own_data_is_served_by_flask_not_the_report_fast_path(make_app):
    app = make_app()
    client = app.test_client()
    iid = new_id()
    assert client.get(f"/track/{iid}/ping/").status_code == 200
    to_flask = past_fast_path(app)
    response = client.get(f"/track/{iid}/")
    assert response.status_code == 200
    assert response.get_json()["instance_id"] == iid
    # The fast path takes only /track/<id>/<event>/: this GET went to Flask.
    assert to_flask == [f"/track/{iid}/"]
    # And a DELETE on the same path still forgets the instance.
    assert client.delete(f"/track/{iid}/").status_code == 200
    assert client.get(f"/track/{iid}/").status_code == 404


def test_public_numbers_leave_out_held_instances_but_their_owner_sees_them(make_app):
    from tracking_collector.runtime import get_collector

    app = make_app(min_group=1)
    client = app.test_client()
    ids = [new_id() for _ in range(3)]
    for iid in ids:
        ping = client.get(
            f"/track/{iid}/ping/", headers={"User-Agent": "OctoPrint/1.11.8"}
        )
        assert ping.status_code == 200
    assert hold(get_collector(app).store, ids[0], "suspect")
    doc = client.get("/export/instance_stats_7d.json").get_json()
    assert doc["count"] == 2
    assert doc["versions"] == {"1.11.8": 2}
    families = _families(client.get("/metrics").get_data(as_text=True))
    active = {
        s.labels["window"]: s.value
        for s in families["tracking_collector_active_instances"].samples
    }
    assert active == {"24h": 2, "7d": 2}
    # Its own data is still its own data; the quarantine itself is not shown.
    own = client.get(f"/track/{ids[0]}/")
    assert own.status_code == 200
    assert "suspect" not in own.get_data(as_text=True)


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("query", "charted"),
    [("OctoLapse", "octolapse"), ("a/b<script>", None), ("", None)],
)
def test_dashboard_charts_the_chosen_plugin_only_for_a_valid_id(make_app, query, charted):
    client = make_app(min_group=1).test_client()
    page = client.get("/", query_string={"plugin": query}).get_data(as_text=True)
    if charted:
        assert f"Adoption of {charted}" in page
    else:
        assert "Adoption of" not in page and "Choose a plugin" in page
    assert "<script" not in page


def test_plugin_pages_and_badges_show_the_totals_of_the_exports_and_stats(fleet_server):
    # (test_readers.py checks /api/stats, the exports and the dashboard alike.)
    server, _ = fleet_server
    stats = get(server, "/api/stats").json()
    plugin_stats = {
        d: get(server, f"/export/plugin_stats_{d}d.json").json() for d in (7, 30)
    }
    page = get(server, "/api/plugins/octolapse").json()
    badge = get(server, "/badge/octolapse.json").json()
    dashboard = get(server, "/").text
    plugin_html = get(server, "/plugins/octolapse").text

    octolapse = {r["key"]: r["instances"] for r in stats["plugins"]}["octolapse"]
    assert octolapse == len(OCTOLAPSE)
    assert octolapse == plugin_stats[7]["plugins"]["octolapse"]["instances"]
    assert page["current"]["7d"] == plugin_stats[7]["plugins"]["octolapse"]
    assert page["current"]["30d"] == plugin_stats[30]["plugins"]["octolapse"]
    assert badge["message"] == str(page["current"]["30d"]["instances"])
    # Today's figure of the daily series is the plugin history's.
    history = get(server, "/api/history/plugins/octolapse").json()["days"]
    assert page["days"][-1].get("instances") == history[-1].get("instances")
    # The pages draw the same figures.
    tile = "</b><span>active instances, last 7 days</span>"
    assert f"<title>octolapse: {octolapse}</title>" in dashboard
    assert f"<b>{octolapse}{tile}" in plugin_html
    assert f"instances (30d): {badge['message']}" in plugin_html


def test_metrics_show_active_instances_only_as_the_exports_publish_them(make_app):
    """/metrics is reachable like the exports: its fleet gauges follow the
    small-group rule (review design 11)."""
    app = make_app(min_group=5)
    client = app.test_client()

    def gauges() -> dict[str, float]:
        families = _families(client.get("/metrics").get_data(as_text=True))
        return {
            s.labels["window"]: s.value
            for s in families["tracking_collector_active_instances"].samples
        }

    for _ in range(3):
        assert client.get(f"/track/{new_id()}/ping/").status_code == 200
    assert "count" not in client.get("/export/instance_stats_7d.json").get_json()
    assert gauges() == {}
    for _ in range(2):
        assert client.get(f"/track/{new_id()}/ping/").status_code == 200
    assert gauges() == {"24h": 5, "7d": 5}
