"""Rollups: hourly and daily figures, the background refresher, the stats cache, and
quarantine (held instances stay out of every public number until released)."""

from __future__ import annotations

import ipaddress

import pytest
from testkit import (
    count_rows,
    day_counts,
    eventually,
    hold,
    instance_count,
    new_id,
    open_test_store,
    pong,
    refreshed_at,
    rows,
    uuids,
)

from tracking_collector.runtime import get_collector
from tracking_collector.store import Report
from tracking_collector.timefmt import day_of

DAY = 86400
HOUR = 3600


def test_hourly_unique_instances_and_daily_breakdowns(client, store, clock):
    day = day_of(clock.now)
    start = day * DAY
    clock.now = start + 10 * HOUR + 30
    a, b, c = new_id(), new_id(), new_id()
    ua = {"User-Agent": "OctoPrint/1.11.8"}
    for iid in (a, b, c):
        client.get(f"/track/{iid}/ping/", headers=ua)  # hour 10, all three
        client.get(f"/track/{iid}/ping/", headers=ua)  # twice: still one instance
    clock.now = start + 12 * HOUR
    client.get(f"/track/{a}/ping/", headers=ua)
    client.get(
        f"/track/{b}/plugin_install/?plugin=OctoLapse&plugin_version=1", headers=ua
    )
    client.get(f"/track/{b}/plugin_installed/?plugin=OctoLapse", headers=ua)
    client.get("/api/stats")  # refreshes the rollups (no background thread here)
    counts = day_counts(store, day)
    hours = {int(k): v for (m, k), v in counts.items() if m == "hour"}
    assert hours == {10: 3, 12: 2}
    assert counts[("active", "")] == 3
    assert counts[("version", "1.11.8")] == 3
    assert counts[("plugin_installed", "octolapse")] == 1
    assert counts[("event", "plugin_install")] == 1
    assert store.daily(["hour"], day, day) == {"hour": {day: {"10": 3, "12": 2}}}


def test_background_refresher_follows_ingest_within_its_interval(make_app):
    app = make_app(background_refresh=True, refresh_interval=0.05)
    client = app.test_client()
    for _ in range(10):
        pong(client, new_id(), version="1.11.8")
    collector = get_collector(app)

    def ten():
        return collector.store.window(7).get("active", {}).get("") == 10

    eventually(ten)
    assert refreshed_at(collector.store) is not None


def test_stats_are_cached_for_the_configured_time(make_app):
    app = make_app(stats_cache=3600)
    client = app.test_client()
    for _ in range(10):
        pong(client, new_id())
    first = client.get("/api/stats").get_json()
    for _ in range(10):
        pong(client, new_id())
    assert client.get("/api/stats").get_json() == first
    assert first["active"]["7d"]["instances"] == 10


def test_admission_hook_sees_the_address_and_holds_instances_out_of_public_numbers(
    make_app, clock
):
    seen = []

    def admission(report, address, user_agent):
        seen.append((report.instance, address, user_agent))
        if report.fields.get("plugins") == "pushed:1":
            return "too many new ids", "cohort-a"
        return None

    app = make_app(admission=admission, trusted_proxies=["127.0.0.1"])
    client = app.test_client()
    store = get_collector(app).store
    organic = [new_id() for _ in range(10)]
    fake = [new_id() for _ in range(25)]
    for iid in organic:
        pong(client, iid, plugins="octolapse:1")
    for iid in fake:
        pong(client, iid, plugins="pushed:1")
        # A later clean report does not release a held instance.
        client.get(f"/track/{iid}/ping/", headers={"X-Forwarded-For": "203.0.113.9"})
    ua = seen[0][2]
    assert ua.startswith("Werkzeug/")  # the test client's User-Agent, passed on
    assert (organic[0], ipaddress.ip_address("127.0.0.1"), ua) in seen
    assert (fake[0], ipaddress.ip_address("203.0.113.9"), ua) in seen

    stats = client.get("/api/stats").get_json()
    assert stats["active"]["7d"]["instances"] == 10
    assert {r["key"] for r in stats["plugins"]} == {"octolapse"}
    assert day_counts(store, day_of(clock.now))[("active", "")] == 10
    assert instance_count(store, held=True) == 25
    [cohort] = store.cohorts()
    assert (cohort.cohort, cohort.instances) == ("cohort-a", 25)
    assert cohort.reasons == {"too many new ids": 25}
    assert cohort.plugins == {"pushed": 25}

    # Released: counted at once, in windows and in the day's rollup.
    assert store.release_cohort("cohort-a") == 25
    stats = client.get("/api/stats").get_json()
    assert stats["active"]["7d"]["instances"] == 35
    assert {r["key"]: r["instances"] for r in stats["plugins"]} == {
        "pushed": 25,
        "octolapse": 10,
    }
    assert day_counts(store, day_of(clock.now))[("active", "")] == 35
    # A released instance is not held again by the hook.
    pong(client, fake[0], plugins="pushed:1")
    assert store.instance(fake[0]).held is None and store.cohorts() == []

    # Released, the cohort is public: purging it deletes none of its instances
    # (purge-cohort acts on held instances only).
    assert store.purge_cohort("cohort-a") == 0
    assert sorted(uuids(store)) == sorted(organic + fake)
    stats = client.get("/api/stats").get_json()
    assert stats["active"]["7d"]["instances"] == 35


def test_failing_admission_hook_holds_nothing_and_loses_nothing(make_app, caplog):
    def admission(report, address, user_agent):
        raise ValueError("broken hook")

    app = make_app(admission=admission)
    iid = new_id()
    assert app.test_client().get(f"/track/{iid}/ping/").status_code == 200
    record = get_collector(app).store.instance(iid)
    assert record is not None and record.held is None
    assert "Admission hook failed" in caplog.text


def test_a_held_instance_leaves_the_rollups_of_its_days(store, clock):
    ids = [new_id() for _ in range(3)]
    store.add_many([Report(i, "ping", clock.now - 2 * DAY) for i in ids])
    store.recompute([day_of(clock.now - 2 * DAY)])
    day = day_of(clock.now - 2 * DAY)
    assert day_counts(store, day)[("active", "")] == 3
    assert hold(store, ids[0], "manual")
    assert day_counts(store, day)[("active", "")] == 2
    assert not hold(store, new_id(), "unknown instance")


def test_a_dated_back_report_never_overrides_a_newer_environment(store, clock):
    iid = new_id()
    store.add_many([Report(iid, "pong", clock.now, "1.11.8", fields={"python": "3.11"})])
    store.add_many(
        [
            Report(
                iid,
                "pong",
                clock.now - HOUR,
                "1.10.0",
                fields={"python": "3.9", "os": "linux"},
            )
        ]
    )
    env = store.instance(iid).env
    # Newer values stay; the older report only fills what was unknown.
    assert (env["version"], env["python"], env["os"]) == ("1.11.8", "3.11", "linux")


def test_print_seconds_browser_keys_and_install_versions_are_folded_safely():
    from tracking_collector.store.model import (
        MAX_ELAPSED,
        browser_version,
        day_rollup,
        elapsed_seconds,
        fold,
    )

    assert [elapsed_seconds(v) for v in ("61.9", "-5", "nan", "x", None, "1e12")] == [
        61,
        0,
        0,
        0,
        0,
        MAX_ELAPSED,
    ]
    assert browser_version("chrome", "120.0.6099") == "chrome/120"
    assert browser_version("safari", "beta") == "safari/unknown"
    t = 100 * DAY
    batch = fold(
        [
            Report("a", "print_started", t, fields={"elapsed": "999"}),
            Report("a", "print_done", t + 1, fields={"elapsed": "60"}),
            Report("a", "print_cancelled", t + 2, fields={"elapsed": "30"}),
        ]
    )
    # Only finished prints carry a duration; a start's elapsed is ignored.
    assert batch.days[("a", 100)].seconds == 90
    counter = day_rollup(
        [],
        [],
        [("1.11.8", 1, 1, 1, 0, 1, 90)],
        [],
        [("octolapse", '{"plugin_version": "0.4.5"}'), ("octolapse", "not json")],
    )
    assert counter[("print_seconds", "1.11.8")] == 90
    assert counter[("plugin_version_installed", "octolapse:0.4.5")] == 1
    assert counter[("plugin_version_installed", "octolapse:unknown")] == 1


@pytest.mark.parametrize(
    "first,last,now,expected",
    [
        (0, 10 * 60, 2 * 3600, True),  # lived 10 min, gone for hours
        (0, 10 * 60, 30 * 60, False),  # might still come back
        (0, 3 * 3600, 10 * 3600, False),  # lived hours
        (0, 29 * 60, 29 * 60 + 3601, True),
    ],
)
def test_ephemeral_instances_appeared_and_vanished_within_minutes(
    db, first, last, now, expected
):
    # The store's lifetime rule at its defaults (1800 s lived, 3600 s gone).
    store = open_test_store(db)
    try:
        start, iid = 100 * DAY + 3600, new_id()
        store.add_many([Report(iid, "ping", start + first)])
        store.add_many([Report(iid, "ping", start + last)])
        store.refresh(start + now, force=True)
        public = store.window(1).get("active", {}).get("", 0)
        assert public == (0 if expected else 1)
    finally:
        store.close()


# Schema 3: hourly print seconds and Python majors, distinct installers, achievements


def test_print_seconds_count_in_the_hour_the_print_finished(store, clock):
    day = day_of(clock.now)
    at = day * DAY
    a, b = new_id(), new_id()

    def prints(event: str, ts: float, elapsed: str) -> Report:
        return Report(a, event, ts, "1.11.8", fields={"elapsed": elapsed})

    store.add_many(
        [
            prints("print_started", at + 9 * HOUR, "9"),
            prints("print_done", at + 10 * HOUR + 5, "600"),
            prints("print_failed", at + 10 * HOUR + 9, "60"),
            prints("print_cancelled", at + 13 * HOUR, "30"),
        ]
    )
    # Another batch adds to the same instance-hour rows.
    store.add_many([Report(b, "print_done", at + 10 * HOUR + 1, "1.11.7", fields={})])
    store.add_many(
        [Report(b, "print_done", at + 10 * HOUR + 2, "1.11.7", fields={"elapsed": "100"})]
    )
    store.recompute([day])
    counts = day_counts(store, day)
    hours = {(m, k): n for (m, k), n in counts.items() if m.startswith("print_hour")}
    assert hours == {
        ("print_hour_seconds", "10"): 760,
        ("print_hour_instances", "10"): 2,
        ("print_hour_seconds", "13"): 30,
        ("print_hour_instances", "13"): 1,
    }
    # Two instances finished prints that day; a start is no finished print.
    assert counts[("print_finishers", "")] == 2
    # The hours add up to the day's print seconds.
    day_total = sum(n for (m, _), n in counts.items() if m == "print_seconds")
    assert day_total == 790
    assert rows(store, "SELECT COUNT(*) FROM print_hours") == [(3,)]


def test_python_majors_per_hour_partition_the_hours_instances(store, clock):
    day = day_of(clock.now)
    at = day * DAY + 8 * HOUR
    fields = ({"python": "2.7.18"}, {"python": "3.11.2"}, {"python": "3.9.2"}, {})
    reports = [
        Report(new_id(), "startup", at + n, "1.7.3", fields=f)
        for n, f in enumerate(fields)
    ]
    store.add_many(reports)
    store.recompute([day])
    counts = day_counts(store, day)
    assert counts[("hour", "8")] == 4
    assert counts[("python2_hour", "8")] == 1
    assert counts[("python3_hour", "8")] == 2  # the fourth is unknown


def test_installing_instances_are_counted_once_per_day_and_window(store, clock):
    day = day_of(clock.now)
    a, b = new_id(), new_id()
    now = clock.now
    store.add_many(
        [
            Report(a, "install_plugin", now - 60, fields={"plugin": "OctoLapse"}),
            Report(a, "plugin_installed", now - 50, fields={"plugin": "octolapse"}),
            Report(a, "install_plugin", now - 3 * DAY, fields={"plugin": "octolapse"}),
            Report(b, "install_plugin", now - 40, fields={"plugin": "octolapse"}),
            Report(b, "uninstall_plugin", now - 30, fields={"plugin": "themeify"}),
        ]
    )
    store.refresh(now, force=True)
    counts = day_counts(store, day)
    assert counts[("plugin_installers", "octolapse")] == 2
    assert counts[("plugin_uninstallers", "themeify")] == 1
    assert counts[("plugin_installed", "octolapse")] == 3  # events, as before
    assert store.window(1)["plugin_installers"] == {"octolapse": 2}
    assert store.window(7)["plugin_installers"] == {"octolapse": 2}
    assert store.window(30)["plugin_uninstallers"] == {"themeify": 1}


def test_achievements_are_the_latest_pongs_list_normalised(store, clock):
    a, b, c = new_id(), new_id(), new_id()
    now = clock.now
    listed = {"achievements": "The_Wizard,night_owl,x y"}
    store.add_many(
        [
            Report(a, "pong", now - 90, fields=listed),
            # A later pong without the field (category off) keeps the list.
            Report(a, "pong", now - 80, fields={"plugins": ""}),
            Report(b, "pong", now - 70, fields={"achievements": ""}),
            Report(c, "pong", now - 60, fields={}),
            Report(c, "achievement_unlocked", now - 50, fields={"achievement": "tgif"}),
        ]
    )  # fmt: skip
    store.refresh(now, force=True)
    assert store.instance(a).env["achievements"] == "night_owl,the_wizard"
    assert store.instance(b).env["achievements"] == ""
    assert store.instance(c).env["achievements"] is None
    window = store.window(7)
    # a and b report achievements (b none unlocked yet); c does not report them.
    assert window["achievements"] == {"": 2}
    assert window["achievement"] == {"night_owl": 1, "the_wizard": 1}


def test_forget_and_purge_take_print_hours_along(store, clock):
    old, gone, kept = new_id(), new_id(), new_id()
    now = clock.now
    done = {"elapsed": "60"}
    store.add_many(
        [
            Report(old, "print_done", now - 95 * DAY, fields=done),
            Report(gone, "print_done", now - 100, fields=done),
            Report(kept, "print_done", now - 90, fields=done),
        ]
    )
    assert count_rows(store, "print_hours") == 3
    store.forget(gone)
    store.purge(now - 90 * DAY)
    remaining = rows(
        store,
        "SELECT i.uuid FROM print_hours p JOIN instances i ON i.id = p.instance_id",
    )
    assert remaining == [(kept,)]
