"""Migrations: a 0.1.0 SQLite file (one raw row per report) is migrated on start,
nothing lost; a schema-2 database of either engine gains print hours and
achievements (schema 3), a schema-3 one the archive and the transparency ledger
(schema 4)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time

import pytest
from testkit import day_counts, new_id, open_test_store, store_of_schema, uuids

from tracking_collector.runtime import get_collector
from tracking_collector.store import SCHEMA_VERSION, Report, SQLiteStore
from tracking_collector.timefmt import day_of

# The schema of octoprint-usage-collector 0.1.0, verbatim.
SCHEMA_0_1_0 = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance TEXT NOT NULL,
    event TEXT NOT NULL,
    ts REAL NOT NULL,
    version TEXT,
    country TEXT NOT NULL DEFAULT 'unknown',
    city TEXT NOT NULL DEFAULT 'unknown',
    fields TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS reports_instance ON reports (instance);
CREATE INDEX IF NOT EXISTS reports_ts ON reports (ts);
CREATE INDEX IF NOT EXISTS reports_event_ts ON reports (event, ts);
"""

DAY = 86400
HOUR = 3600


def _write_0_1_0(path, rows) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_0_1_0)
    conn.executemany(
        "INSERT INTO reports (instance, event, ts, version, country, city, fields)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i, e, ts, v, c, city, json.dumps(f)) for i, e, ts, v, c, city, f in rows],
    )
    conn.commit()
    conn.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_0_1_0_database_is_migrated_on_start_with_nothing_lost(make_app, db_path, clock):
    now = clock.now
    fleet = [new_id() for _ in range(12)]
    rows = []
    for n, iid in enumerate(fleet):
        # Two days ago on 1.10.0, today on 1.11.8 after an update.
        rows.append(
            (
                iid,
                "pong",
                now - 2 * DAY,
                "1.10.0",
                "DE",
                "Berlin",
                {
                    "version": "1.10.0",
                    "python": "3.9.2",
                    "os": "linux",
                    "plugins": "octolapse:0.4",
                },
            )
        )
        rows.append(
            (
                iid,
                "ping",
                now - 2 * DAY + HOUR,
                "1.10.0",
                "DE",
                "Berlin",
                {"octoprint_uptime": "5"},
            )
        )
        rows.append(
            (
                iid,
                "startup",
                now - HOUR,
                "1.11.8",
                "DE",
                "Berlin",
                {"version": "1.11.8", "marker": f"startup-{n}"},
            )
        )
        rows.append(
            (
                iid,
                "pong",
                now - HOUR,
                "1.11.8",
                "DE",
                "Berlin",
                {
                    "version": "1.11.8",
                    "python": "3.11.2",
                    "os": "linux",
                    "plugins": "octolapse:0.4,bedlevelvisualizer:1.1",
                },
            )
        )
        rows.append((iid, "print_started", now - HOUR, "1.11.8", "DE", "Berlin", {}))
        rows.append(
            (
                iid,
                "print_done" if n % 3 else "print_failed",
                now - HOUR + 60,
                "1.11.8",
                "DE",
                "Berlin",
                {"elapsed": "60"},
            )
        )
    _write_0_1_0(db_path, rows)

    app = make_app()
    store = get_collector(app).store
    conn = sqlite3.connect(db_path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    version = conn.execute("SELECT version FROM schema_version").fetchall()
    conn.close()
    assert "reports" not in tables
    assert version == [(SCHEMA_VERSION,)]

    # Every report is accounted for, per day and event.
    counts = store.ingest_counts()
    assert sum(sum(c.values()) for c in counts.values()) == len(rows)
    assert counts[day_of(now - 2 * DAY)] == {"pong": 12, "ping": 12}

    # Instances carry their latest environment; activity sits in the right hours.
    assert sorted(uuids(store)) == sorted(fleet)
    record = store.instance(fleet[0])
    assert record.env["version"] == "1.11.8" and record.env["python"] == "3.11.2"
    assert record.env["plugins"] == "bedlevelvisualizer:1.1,octolapse:0.4"
    assert (record.env["country"], record.env["city"]) == ("DE", "Berlin")
    assert record.first_seen == now - 2 * DAY
    assert [e.fields for e in record.events] == [
        {"version": "1.11.8", "marker": "startup-0"}
    ]
    days = {d[0]: d for d in record.days}
    assert days[day_of(now - 2 * DAY)][2] == "1.10.0"
    assert days[day_of(now - HOUR)][2:] == ("1.11.8", 1, 0, 1, 0)

    # The public numbers come out of the migrated data.
    stats = app.test_client().get("/api/stats").get_json()
    assert stats["active"]["7d"]["instances"] == 12
    assert stats["active"]["24h"]["by_version"] == [{"key": "1.11.8", "instances": 12}]
    assert {r["key"]: r["instances"] for r in stats["plugins"]} == {
        "octolapse": 12,
        "bedlevelvisualizer": 12,
    }
    today = stats["prints"]["per_day"][-1]
    assert (today["started"], today["done"], today["failed"]) == (12, 8, 4)
    old_day = day_counts(store, day_of(now - 2 * DAY))
    assert old_day[("version", "1.10.0")] == 12 and old_day[("active", "")] == 12

    # The raw rows left the disk with the old table (secure_delete + WAL scrub).
    raw = db_path.read_bytes()
    wal = db_path.with_name(db_path.name + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert b"octoprint_uptime" not in raw


def test_migration_runs_once_and_an_empty_0_1_0_file_works(db_path):
    _write_0_1_0(db_path, [])
    store = SQLiteStore(str(db_path))
    store.close()
    store = SQLiteStore(str(db_path))
    try:
        assert uuids(store) == []
        store.add_many([])
        assert store.refresh(time.time(), force=True)
    finally:
        store.close()


def test_a_newer_schema_is_refused(db_path):
    SQLiteStore(str(db_path)).close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        SQLiteStore(str(db_path))


def test_schema_1_database_gains_print_seconds_and_new_env_columns(
    db, clock, monkeypatch
):
    # A database as schema 1 left it...
    day = day_of(clock.now)
    with store_of_schema(db, 1, monkeypatch) as old:
        old.engine.bulk_insert(
            "instances",
            ("uuid", "first_seen", "last_seen", "version"),
            [("a" * 32, clock.now, clock.now, "1.11.8")],
        )
        with old.engine.read() as q:
            ((iid,),) = q.rows("SELECT id FROM instances")
        old.engine.bulk_insert(
            "instance_days",
            ("day", "instance_id", "hours", "version", "done"),
            [(day, iid, 1, "1.11.8", 2)],
        )
        with old.engine.read() as q:
            assert "print_seconds" not in old.engine.columns(q, "instance_days")

    # ...is migrated on start: old rows keep their figures, with 0 print seconds.
    store = open_test_store(db)
    try:
        with store.engine.read() as q:
            assert q.rows("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
            assert q.rows("SELECT done, print_seconds FROM instance_days") == [(2, 0)]
            columns = store.engine.columns(q, "instances")
        assert {"octopiuptodate_build", "browser_version", "client_os"} <= set(columns)
        client = {
            "browser_name": "firefox",
            "browser_version": "121.0",
            "os_name": "macos",
        }
        store.add_many(
            [
                Report("a" * 32, "print_done", clock.now, fields={"elapsed": "90.6"}),
                Report("a" * 32, "webui_load", clock.now, fields=client),
            ]
        )
        store.recompute([day])
        counts = day_counts(store, day)
        assert counts[("print_done", "1.11.8")] == 3
        assert counts[("print_seconds", "1.11.8")] == 90
        assert counts[("browser_version", "firefox/121")] == 1
        assert counts[("client_os", "macos")] == 1
    finally:
        store.close()
    # Opening again migrates nothing twice.
    open_test_store(db).close()


def test_schema_2_database_gains_print_hours_and_achievements(db, clock, monkeypatch):
    """Schema 3 (ADD COLUMN and CREATE TABLE only), on SQLite and PostgreSQL."""
    from testkit import count_rows

    # A database as schema 2 left it...
    day, iid = day_of(clock.now), new_id()
    with store_of_schema(db, 2, monkeypatch) as old:
        old.engine.bulk_insert(
            "instances",
            ("uuid", "first_seen", "last_seen", "version", "plugins"),
            [(iid, clock.now - HOUR, clock.now - HOUR, "1.11.8", "octolapse:0.4")],
        )
        with old.engine.read() as q:
            ((row_id,),) = q.rows("SELECT id FROM instances")
            assert "achievements" not in old.engine.columns(q, "instances")
            assert old.engine.columns(q, "print_hours") == []
        old.engine.bulk_insert(
            "instance_days",
            ("day", "instance_id", "hours", "version", "done", "print_seconds"),
            [(day, row_id, 1, "1.11.8", 2, 300)],
        )

    # ...is migrated on start; its rows keep their figures, and new reports fill
    # the new table and column.
    store = open_test_store(db)
    try:
        with store.engine.read() as q:
            assert q.rows("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
            assert q.rows("SELECT done, print_seconds FROM instance_days") == [(2, 300)]
            assert "achievements" in store.engine.columns(q, "instances")
        assert store.instance(iid).env["achievements"] is None
        assert count_rows(store, "print_hours") == 0
        store.add_many(
            [
                Report(iid, "pong", clock.now, fields={"achievements": "the_wizard"}),
                Report(iid, "print_done", clock.now, fields={"elapsed": "90"}),
            ]
        )
        store.recompute([day])
        counts = day_counts(store, day)
        hour = str(int(clock.now % DAY // HOUR))
        assert counts[("print_hour_seconds", hour)] == 90
        # The migrated day's 300 seconds have no hour: they stay in the day total.
        assert counts[("print_seconds", "1.11.8")] == 390
        assert counts[("achievement", "the_wizard")] == 1
    finally:
        store.close()
    # Opening again migrates nothing twice.
    open_test_store(db).close()


def test_schema_3_database_gains_the_archive_and_the_ledger(db, clock, monkeypatch):
    # A database as schema 3 left it...
    iid = new_id()
    with store_of_schema(db, 3, monkeypatch) as old:
        old.add_many([Report(iid, "ping", clock.now, "1.11.8")])
        with old.engine.read() as q:
            for table in ("archive", "archive_entries", "daily_counts"):
                assert old.engine.columns(q, table) == []

    # ...is migrated on start, its data kept, and the new tables work on it.
    store = open_test_store(db)
    try:
        with store.engine.read() as q:
            assert q.rows("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert uuids(store) == [iid]
        day = day_of(clock.now)
        body = b'{"count":12}'
        assert store.archive(day, [("instance_stats_7d", 1, body)], [("p", "{}")]) == [
            "instance_stats_7d"
        ]
        archived = store.archive_file(day, "instance_stats_7d")
        assert archived.body == body
        assert archived.sha256 == hashlib.sha256(body).hexdigest()
        assert store.forget(iid, now=clock.now) > 0
        assert store.daily_counts(day, day) == {day: {("forgotten", "instances"): 1}}
        # The retention purge leaves the archive alone.
        store.purge(clock.now + 400 * DAY, now=clock.now)
        assert store.archive_file(day, "instance_stats_7d").body == body
        assert store.archived_entries("p") == {day: "{}"}
    finally:
        store.close()
    # Opening again migrates nothing twice.
    open_test_store(db).close()
