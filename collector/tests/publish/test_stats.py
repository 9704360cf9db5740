"""Statistics: correct aggregation, and groups below min-group never shown exactly."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from testkit import new_id

from tracking_collector.publish.smallgroup import breakdown, masked, masked_map

DAY = 86400


def pong(client, iid, version="1.11.8", python="3.11.7", os="linux", plugins="", age=0):
    body = f"version={version}&python={python}&os={os}&plugins={plugins}&age={age}"
    assert client.post(f"/track/{iid}/pong/", data=body).status_code == 200


def _group(rows, key):
    return next(r["instances"] for r in rows if r["key"] == key)


def test_group_below_min_group_is_shown_as_less_than_ten(client):
    for _ in range(9):
        pong(client, new_id(), version="1.10.0")
    for _ in range(8):
        pong(client, new_id(), version="1.9.0")
    for _ in range(12):
        pong(client, new_id(), version="1.11.8")
    stats = client.get("/api/stats").get_json()
    by_version = stats["active"]["24h"]["by_version"]
    assert _group(by_version, "1.10.0") == "<10"
    assert _group(by_version, "1.9.0") == "<10"
    assert _group(by_version, "1.11.8") == 12
    assert stats["active"]["24h"]["instances"] == 29


def test_group_of_exactly_min_group_is_shown_exactly(client):
    for _ in range(10):
        pong(client, new_id(), os="windows")
    stats = client.get("/api/stats").get_json()
    assert _group(stats["active"]["7d"]["by_os"], "windows") == 10


def test_total_below_min_group_is_masked_too(client):
    for _ in range(3):
        pong(client, new_id())
    stats = client.get("/api/stats").get_json()
    assert stats["active"]["24h"]["instances"] == "<10"
    assert stats["active"]["7d"]["instances"] == "<10"


def test_no_exact_small_count_anywhere_in_api_or_dashboard(client):
    for i in range(7):
        iid = new_id()
        pong(client, iid, version="1.9.3", plugins=f"rare{i}:1.0")
        client.get(f"/track/{iid}/printer_connected/?firmware_name=Klipper")
        client.get(f"/track/{iid}/print_done/?elapsed=10")
    stats = client.get("/api/stats").get_json()

    def walk(node):
        if isinstance(node, dict):
            if "instances" in node:
                yield node["instances"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    counts = list(walk(stats))
    assert counts and all(c == "<10" for c in counts)
    for row in stats["prints"]["per_day"] + stats["prints"]["by_version"]:
        assert row["done"] is None and row["done_rate"] is None
    html = client.get("/").get_data(as_text=True)
    assert "&lt;10" in html and "<svg" in html
    assert not re.search(r">7<", html)


def test_single_hidden_group_forces_next_smallest_to_be_hidden():
    rows = breakdown(Counter({"a": 50, "b": 20, "c": 3}), 10)
    assert rows == [
        {"key": "a", "instances": 50},
        {"key": "b", "instances": "<10"},
        {"key": "c", "instances": "<10"},
    ]


def test_two_hidden_groups_need_no_extra_suppression():
    rows = breakdown(Counter({"a": 50, "b": 2, "c": 3}), 10)
    assert rows[0] == {"key": "a", "instances": 50}


def test_masked_uses_configured_min_group():
    assert masked(4, 5) == "<5"
    assert masked(5, 5) == 5


def test_min_group_is_configurable(make_app):
    app = make_app(min_group=3)
    client = app.test_client()
    for _ in range(3):
        pong(client, new_id(), version="1.5.0")
    stats = client.get("/api/stats").get_json()
    assert stats["min_group"] == 3
    assert _group(stats["active"]["24h"]["by_version"], "1.5.0") == 3


def test_active_windows_split_24h_and_7d(make_app):
    # ``age`` may date reports back 30 days here (the default limit is 7).
    client = make_app(max_age_days=30).test_client()
    for _ in range(10):
        pong(client, new_id(), version="1.9.0", age=3 * DAY)
    for _ in range(10):
        pong(client, new_id(), version="1.11.8")
    for _ in range(10):
        pong(client, new_id(), version="1.8.0", age=10 * DAY)
    active = client.get("/api/stats").get_json()["active"]
    assert [r["key"] for r in active["24h"]["by_version"]] == ["1.11.8"]
    assert {r["key"] for r in active["7d"]["by_version"]} == {"1.11.8", "1.9.0"}


def test_latest_version_of_an_instance_counts(client):
    ids = [new_id() for _ in range(10)]
    for iid in ids:
        pong(client, iid, version="1.10.0", age=3600)
        client.get(f"/track/{iid}/startup/?version=1.11.8")
    by_version = client.get("/api/stats").get_json()["active"]["24h"]["by_version"]
    assert by_version == [{"key": "1.11.8", "instances": 10}]


def test_print_outcome_rates_per_version(client):
    ids = [new_id() for _ in range(10)]
    for i, iid in enumerate(ids):
        ua = {"User-Agent": "OctoPrint/1.11.8"}
        client.get(f"/track/{iid}/print_started/", headers=ua)
        outcome = ["print_done"] * 6 + ["print_failed"] * 3 + ["print_cancelled"]
        client.get(f"/track/{iid}/{outcome[i]}/", headers=ua)
    prints = client.get("/api/stats").get_json()["prints"]
    [row] = prints["by_version"]
    assert row["version"] == "1.11.8"
    assert row["instances"] == 10
    assert (row["started"], row["done"], row["failed"], row["cancelled"]) == (10, 6, 3, 1)
    assert row["done_rate"] == pytest.approx(0.6)
    assert row["failed_rate"] == pytest.approx(0.3)
    assert row["cancelled_rate"] == pytest.approx(0.1)
    assert len(prints["per_day"]) == 1 and prints["per_day"][0]["done"] == 6
    assert prints["per_day_by_version"][0]["version"] == "1.11.8"


def test_plugins_firmware_and_countries_are_counted_per_instance(make_app, geo_db):
    app = make_app(geoip=str(geo_db))
    client = app.test_client()
    for _ in range(11):
        iid = new_id()
        plugins = "octolapse%3A0.4%2Cbedlevelvisualizer%3A1.1%2Ctracking%3A1"
        body = f"version=1.11.8&plugins={plugins}"
        client.post(
            f"/track/{iid}/pong/", data=body, environ_base={"REMOTE_ADDR": "198.51.100.9"}
        )
        client.get(f"/track/{iid}/printer_connected/?firmware_name=Marlin")
    stats = client.get("/api/stats").get_json()
    assert {r["key"]: r["instances"] for r in stats["plugins"]} == {
        "bedlevelvisualizer": 11,
        "octolapse": 11,
    }
    assert stats["firmware"] == [{"key": "Marlin", "instances": 11}]
    assert stats["countries"] == [{"key": "FR", "instances": 11}]


def test_dashboard_renders_svg_charts_with_data(client):
    for _ in range(12):
        pong(client, new_id(), plugins="octolapse:1")
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert html.count("<svg") >= 4
    assert "octolapse" in html and ">12<" in html
    # Nothing loaded from elsewhere: no scripts, stylesheets or images by URL.
    assert not re.search(r"<script|<link|<img|src=", html)


@pytest.mark.parametrize("counts", [Counter(), Counter({"a": 1})])
def test_masked_map_never_shows_a_small_group(counts):
    assert all(v == "<10" for v in masked_map(counts, 10).values())
