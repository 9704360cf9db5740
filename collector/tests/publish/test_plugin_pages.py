"""A plugin's page and badge: adoption per day, versions over time, install and
uninstall events, from the rollups and (closed days) the archive; unknown and
hidden plugins answer alike."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from testkit import new_id, pong
from testkit.schemas import check_schema

from tracking_collector.runtime import get_collector
from tracking_collector.timefmt import day_iso, day_of

DAY = 86400
MIN_GROUP = 3


def midday(clock, days_later: int = 1) -> int:
    """Move the clock to noon of a later day (far from the midnight that closes the
    day before); returns the day."""
    clock.now = (day_of(clock.now) + days_later) * DAY + DAY / 2
    return day_of(clock.now)


def event(client, iid: str, name: str, version: str = "0.4.5") -> None:
    query = {"plugin": "octolapse", "plugin_version": version}
    assert client.get(f"/track/{iid}/{name}/", query_string=query).status_code == 200


def refresh_and_archive(app, clock) -> list[str]:
    collector = get_collector(app)
    collector.store.refresh(clock.now, force=True)
    return collector.archive(clock.now)


@pytest.fixture
def two_days(make_app, clock):
    """Day one: six instances on octolapse 0.4.5, three of them just installed it.
    Day two: three of them on 0.4.6, three newcomers on 0.4.6, three uninstalls."""
    app = make_app(min_group=MIN_GROUP)
    client = app.test_client()
    first = midday(clock)
    old = [new_id() for _ in range(6)]
    for n, iid in enumerate(old):
        pong(client, iid, plugins="octolapse:0.4.5")
        if n < 3:
            event(client, iid, "install_plugin")
    refresh_and_archive(app, clock)
    second = midday(clock)
    new = [new_id() for _ in range(3)]
    for n, iid in enumerate(old + new):
        pong(client, iid, plugins=f"octolapse:{'0.4.5' if 3 <= n < 6 else '0.4.6'}")
    for iid in old[:3]:
        event(client, iid, "uninstall_plugin")
    refresh_and_archive(app, clock)
    return app, first, second, old


def days_of(page: dict) -> dict[str, dict]:
    return {d["day"]: {k: v for k, v in d.items() if k != "day"} for d in page["days"]}


def test_a_plugin_page_shows_adoption_versions_and_events_per_day(two_days, clock):
    app, first, second, _ = two_days
    client = app.test_client()
    response = client.get("/api/plugins/OctoLapse")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    page = response.get_json()
    check_schema(page, "PluginPage")
    assert page["plugin"] == "octolapse"
    days = days_of(page)
    assert days[day_iso(first)] == {
        "archived": False,
        "instances": 6,
        "versions": {"0.4.5": 6},
        "versions_other": 0,
        "versions_unknown": 0,
        "install_events": 3,
    }
    assert days[day_iso(second)] == {
        "archived": False,
        "instances": 9,
        "versions": {"0.4.6": 6, "0.4.5": 3},
        "versions_other": 0,
        "versions_unknown": 0,
        "uninstall_events": 3,
    }
    assert len(page["days"]) == 90 and page["days"][-1]["day"] == day_iso(second)
    # The current figures are the plugin_stats exports' entries, whatever they say.
    for window in ("7d", "30d"):
        export = client.get(f"/export/plugin_stats_{window}.json").get_json()
        assert page["current"][window] == export["plugins"]["octolapse"]
    assert page["current"]["7d"]["instances"] == 9


def test_closed_days_come_from_the_archive_and_a_forget_does_not_rewrite_them(
    two_days, clock
):
    app, first, second, old = two_days
    client = app.test_client()
    before = days_of(client.get("/api/plugins/octolapse").get_json())
    midday(clock, days_later=9)
    written = refresh_and_archive(app, clock)
    assert {f"{day_iso(d)}/day_stats" for d in (first, second)} <= set(written)
    page = client.get("/api/plugins/octolapse").get_json()
    check_schema(page, "PluginPage")
    archived = days_of(page)
    for day in (first, second):
        assert archived[day_iso(day)] == {**before[day_iso(day)], "archived": True}
    # Archived days within the rollups' history replace them there, no more.
    assert len(page["days"]) == 90

    # A forget marks the instance's days for recomputation; the archived days
    # stay what was published.
    assert client.delete(f"/track/{old[3]}/").status_code == 200
    refresh_and_archive(app, clock)
    again = days_of(client.get("/api/plugins/octolapse").get_json())
    assert again[day_iso(first)]["instances"] == 6
    assert again[day_iso(second)]["instances"] == 9
    # So do the histories' closed days; today's comes from the rollups.
    adoption = client.get("/api/history/plugins/octolapse").get_json()
    check_schema(adoption, "PluginHistory")
    assert days_of(adoption)[day_iso(first)] == {"instances": 6, "install_events": 3}
    versions = client.get("/api/history/versions").get_json()
    check_schema(versions, "VersionHistory")
    assert days_of(versions)[day_iso(first)]["instances"] == 6
    assert days_of(versions)[day_iso(second)]["instances"] == 9


def _without(text: str, plugin: str) -> str:
    return text.replace(plugin, "<id>")


def test_unknown_and_hidden_plugins_answer_identically(make_app, clock):
    app = make_app(min_group=MIN_GROUP)
    client = app.test_client()
    midday(clock)
    # Ten instances on octolapse; two of them with an in-house plugin, one with
    # another small one: both below the minimum, together not.
    for n in range(10):
        extra = ",inhouse:1.0" if n < 2 else ",tiny:0.1" if n == 2 else ""
        pong(client, new_id(), plugins="octolapse:0.4.5" + extra)
    refresh_and_archive(app, clock)
    midday(clock, days_later=9)
    assert refresh_and_archive(app, clock)  # the day with the plugin is archived

    answers = {}
    for plugin in ("inhouse", "nosuchplugin"):
        answers[plugin] = [
            _without(client.get(path.format(plugin)).get_data(as_text=True), plugin)
            for path in (
                "/api/plugins/{}",
                "/plugins/{}",
                "/badge/{}.svg",
                "/badge/{}.json",
            )
        ]
    assert answers["inhouse"] == answers["nosuchplugin"]
    page = json.loads(answers["inhouse"][0])
    assert page["current"] == {"7d": None, "30d": None}
    assert all(set(d) == {"day", "archived"} for d in page["days"])
    assert any(d["archived"] for d in page["days"])
    assert json.loads(answers["inhouse"][3])["message"] == "not published"
    # The visible plugin of the same instances is shown.
    shown = client.get("/api/plugins/octolapse").get_json()
    assert shown["current"]["30d"]["instances"] == 10


def test_the_badge_shows_30_day_instances_as_shields_would(two_days):
    app, *_ = two_days
    client = app.test_client()
    endpoint = client.get("/badge/octolapse.json")
    check_schema(endpoint.get_json(), "ShieldsEndpoint")
    assert endpoint.get_json() == {
        "schemaVersion": 1,
        "label": "instances (30d)",
        "message": "9",
        "color": "blue",
        "cacheSeconds": 3600,
    }
    svg = client.get("/badge/octolapse.svg")
    assert svg.mimetype == "image/svg+xml"
    root = ET.fromstring(svg.data)
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.get("height") == "20"
    assert root.find("s:title", ns).text == "instances (30d): 9"
    label, message, _ = root.findall("s:g/s:rect", ns)
    # Two boxes side by side that fill the badge exactly.
    assert int(label.get("width")) + int(message.get("width")) == int(root.get("width"))
    assert message.get("x") == label.get("width")
    texts = [t.text for t in root.findall("s:g/s:text", ns)]
    assert texts == ["instances (30d)", "instances (30d)", "9", "9"]


def test_an_invalid_plugin_id_is_refused(client):
    for path in ("/api/plugins/a%20b", "/plugins/a%20b", "/badge/a%20b.svg"):
        response = client.get(path)
        assert response.status_code == 400
        assert response.get_json()["error"] == "invalid_plugin_id"


def count_daily_reads(store) -> list:
    """The arguments of every ``store.daily`` read from now on."""
    reads = []
    real_daily = store.daily

    def counting_daily(*args, **kwargs):
        reads.append(args)
        return real_daily(*args, **kwargs)

    store.daily = counting_daily
    return reads


def test_pages_of_many_plugin_ids_cost_one_read_of_the_rollups(make_app, clock):
    """Any id can be asked for, anonymously: every plugin's daily figures are read
    and folded once per cache period, and concurrent askers share that one
    computation (review design 8)."""
    import threading

    app = make_app(min_group=MIN_GROUP, stats_cache=60)
    client = app.test_client()
    midday(clock)
    for _ in range(4):
        pong(client, new_id(), plugins="octolapse:0.4.5")
    store = get_collector(app).store
    reads = count_daily_reads(store)
    answers = []

    def ask(n: int) -> None:
        for path in (
            f"/api/plugins/p{n}",
            f"/api/history/plugins/p{n}",
            f"/plugins/p{n}",
        ):
            answers.append(app.test_client().get(path).status_code)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    page = client.get("/api/plugins/octolapse").get_json()
    assert page["current"]["7d"]["instances"] == 4
    assert len(answers) == 24 and set(answers) <= {200, 404}
    plugin_reads = [a for a in reads if "plugin" in a[0]]
    assert len(plugin_reads) == 1, reads


def test_without_a_cache_a_plugin_request_reads_the_rollups_once(make_app, clock):
    app = make_app(min_group=MIN_GROUP, stats_cache=0)
    store = get_collector(app).store
    reads = count_daily_reads(store)
    client = app.test_client()
    for path in ("/api/history/plugins/octolapse", "/api/plugins/octolapse"):
        reads.clear()
        assert client.get(path).status_code == 200
        assert len([a for a in reads if "plugin" in a[0]]) == 1, (path, reads)
