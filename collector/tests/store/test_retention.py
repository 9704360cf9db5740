"""Retention by day: data older than the retention period is purged, automatically too."""

from __future__ import annotations

import time

from click.testing import CliRunner
from testkit import count_rows, eventually, instance_count, new_id, open_test_store, uuids

from tracking_collector.cli import main
from tracking_collector.runtime import get_collector
from tracking_collector.settings import Config
from tracking_collector.store import Report
from tracking_collector.timefmt import day_of

DAY = 86400


def test_default_retention_is_90_days_and_age_limit_7():
    assert Config().retention_days == 90
    assert Config().max_age_seconds == 7 * DAY
    assert Config(retention_days=3).max_age_seconds == 3 * DAY


def test_purge_deletes_days_older_than_retention_and_keeps_newer(make_app, clock):
    app = make_app()
    client = app.test_client()
    old, recent = new_id(), new_id()
    client.get(f"/track/{old}/ping/")
    client.get(f"/track/{old}/startup/")
    clock.advance(60 * DAY)
    client.get(f"/track/{recent}/ping/")
    clock.advance(31 * DAY)  # old is now 91 days old, recent 31
    collector = get_collector(app)
    store = collector.store
    store.refresh(clock.now)
    assert count_rows(store, "instance_days") == 2
    assert collector.purge() >= 3
    assert store.instance(old) is None
    assert store.instance(recent) is not None
    assert count_rows(store, "instance_days") == 1
    assert count_rows(store, "events") == 0
    # Rollups and report counters of purged days are gone too.
    assert store.daily(["active"], 0) == {
        "active": {day_of(clock.now - 31 * DAY): {"": 1}}
    }
    assert list(store.ingest_counts()) == [day_of(clock.now - 31 * DAY)]


def test_purge_honours_configured_retention(make_app, clock):
    app = make_app(retention_days=7)
    iid = new_id()
    app.test_client().get(f"/track/{iid}/ping/?age={8 * DAY}")
    clock.advance(1)
    assert get_collector(app).purge() >= 1
    assert get_collector(app).store.instance(iid) is None


def test_age_never_dates_a_report_beyond_retention(make_app, clock):
    app = make_app(retention_days=3)
    iid = new_id()
    app.test_client().get(f"/track/{iid}/ping/?age={365 * DAY}")
    record = get_collector(app).store.instance(iid)
    assert record.first_seen == clock.now - 3 * DAY


def test_age_dates_back_at_most_the_documented_limit(make_app, clock):
    app = make_app()
    client = app.test_client()
    iid = new_id()
    client.get(f"/track/{iid}/startup/?age={30 * DAY}")
    client.get(f"/track/{iid}/ping/?age={2 * DAY + 5 * 3600}")
    record = get_collector(app).store.instance(iid)
    assert record.first_seen == clock.now - 7 * DAY
    claimed = clock.now - 2 * DAY - 5 * 3600
    days = {d: hours for d, hours, *_ in record.days}
    assert set(days) == {day_of(clock.now - 7 * DAY), day_of(claimed)}
    assert days[day_of(claimed)] == 1 << int(claimed % DAY // 3600)


def test_background_purge_runs_without_being_called(make_app, clock, db):
    seed = open_test_store(db)
    seed.add_many(
        [
            Report(new_id(), "ping", clock.now - 100 * DAY),
            Report(new_id(), "ping", clock.now),
        ]
    )
    seed.close()
    app = make_app(background_purge=True, purge_interval=0.05)
    store = get_collector(app).store
    eventually(lambda: instance_count(store) == 1, timeout=10)


def test_purge_command_deletes_old_data(db):
    store = open_test_store(db)
    old, recent = new_id(), new_id()
    store.add_many(
        [
            Report(old, "ping", time.time() - 100 * DAY),
            Report(recent, "ping", time.time() - 10 * DAY),
        ]
    )
    result = CliRunner().invoke(main, ["purge", "--db", db])
    assert result.exit_code == 0, result.output
    assert "purged 3 rows" in result.output  # instance, its day, its report count
    assert uuids(store) == [recent]
    result = CliRunner().invoke(main, ["purge", "--db", db, "--retention-days", "5"])
    assert "purged 3 rows" in result.output
    assert uuids(store) == []
    store.close()
