"""Retention: reports older than the retention period are purged, automatically too."""

from __future__ import annotations

from click.testing import CliRunner
from collector_testkit import new_id, wait_for

from tracking_collector.app import get_collector
from tracking_collector.cli import main
from tracking_collector.config import Config
from tracking_collector.store import Report, SQLiteStore

DAY = 86400


def test_default_retention_is_90_days():
    assert Config().retention_days == 90


def test_purge_deletes_reports_older_than_retention_and_keeps_newer(make_app, clock):
    app = make_app()
    client = app.test_client()
    old, recent = new_id(), new_id()
    client.get(f"/track/{old}/ping/")
    clock.advance(60 * DAY)
    client.get(f"/track/{recent}/ping/")
    clock.advance(31 * DAY)  # old is now 91 days old, recent 31
    collector = get_collector(app)
    assert collector.purge() == 1
    assert collector.store.count(old) == 0
    assert collector.store.count(recent) == 1


def test_purge_honours_configured_retention(make_app, clock):
    app = make_app(retention_days=7)
    iid = new_id()
    app.test_client().get(f"/track/{iid}/ping/?age={8 * DAY}")
    clock.advance(1)
    assert get_collector(app).purge() == 1


def test_age_never_dates_a_report_beyond_retention(make_app, clock):
    app = make_app(retention_days=7)
    iid = new_id()
    app.test_client().get(f"/track/{iid}/ping/?age={365 * DAY}")
    [report] = get_collector(app).store.reports(iid)
    assert report.ts >= clock.now - 7 * DAY


def test_background_purge_runs_without_being_called(make_app, clock, db_path):
    seed = SQLiteStore(str(db_path))
    seed.add_many(
        [
            Report(new_id(), "ping", clock.now - 100 * DAY),
            Report(new_id(), "ping", clock.now),
        ]
    )
    seed.close()
    app = make_app(background_purge=True, purge_interval=0.05)
    store = get_collector(app).store
    wait_for(lambda: store.count() == 1, timeout=10)


def test_purge_command_deletes_old_reports(tmp_path):
    import time

    db = tmp_path / "cli.sqlite"
    store = SQLiteStore(str(db))
    store.add_many(
        [
            Report(new_id(), "ping", time.time() - 100 * DAY),
            Report(new_id(), "ping", time.time() - 10 * DAY),
        ]
    )
    store.close()
    result = CliRunner().invoke(main, ["purge", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "purged 1 reports" in result.output
    result = CliRunner().invoke(main, ["purge", "--db", str(db), "--retention-days", "5"])
    assert "purged 1 reports" in result.output
