"""Several collector processes share one PostgreSQL: nothing lost, one set of numbers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from testkit import eventually, instance_count, new_id, open_test_store, stored, uuids

from tracking_collector.timefmt import day_of


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_collector_processes_on_one_postgresql_store_and_serve_the_same(
    start_server, db
):
    fast = ("--refresh-interval", "0.2", "--stats-cache", "0", "--pool-size", "4")
    servers = [start_server(*fast, db=db), start_server(*fast, db=db)]
    fleet = [new_id() for _ in range(30)]

    def send(n: int) -> int:
        iid = fleet[n % len(fleet)]
        server = servers[n % 2]
        event = ("ping", "print_started", "print_done", "startup")[n % 4]
        with requests.Session() as http:
            http.headers["User-Agent"] = "OctoPrint/1.11.8"
            if n < len(fleet):
                r = http.post(
                    f"{server.url}/track/{iid}/pong/",
                    data="version=1.11.8&python=3.11.2&plugins=octolapse:0.4",
                    timeout=20,
                )
            else:
                r = http.get(f"{server.url}/track/{iid}/{event}/", timeout=20)
        return r.status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(send, range(600)))
    acknowledged = statuses.count(200)
    assert acknowledged == 600, statuses

    store = open_test_store(db)
    try:
        assert stored(store) == acknowledged
        assert sorted(uuids(store)) == sorted(fleet)
    finally:
        store.close()

    def both_stats():
        stats = [requests.get(f"{s.url}/api/stats", timeout=10).json() for s in servers]
        for doc in stats:  # read at slightly different moments
            doc.pop("_since"), doc.pop("_generated")
        return stats

    started = sum(1 for n in range(len(fleet), 600) if n % 4 == 1)
    done = sum(1 for n in range(len(fleet), 600) if n % 4 == 2)

    def settled():
        a, b = both_stats()
        today = a["prints"]["per_day"][-1]
        return a == b and (today.get("started"), today.get("done")) == (started, done)

    # Rollups follow within a few refresh intervals, whichever process refreshes.
    eventually(settled, timeout=20)
    a, b = both_stats()
    assert a == b
    assert a["active"]["7d"]["instances"] == 30
    assert a["plugins"] == [{"key": "octolapse", "instances": 30}]
    today = a["prints"]["per_day"][-1]
    assert (today["instances"], today["started"], today["done"]) == (30, started, done)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_copy_command_moves_a_sqlite_store_into_postgresql(make_app, db, db_path, clock):
    from click.testing import CliRunner
    from testkit import pong

    from tracking_collector.cli import main
    from tracking_collector.runtime import get_collector
    from tracking_collector.store import SQLiteStore

    source = SQLiteStore(str(db_path))
    source_app = make_app(store=source)
    client = source_app.test_client()
    for _ in range(12):
        iid = new_id()
        pong(client, iid, plugins="octolapse:1")
        client.get(
            f"/track/{iid}/print_done/", headers={"User-Agent": "OctoPrint/1.11.8"}
        )
        client.get(f"/track/{iid}/plugin_installed/?plugin=octolapse")
    # The archive and the transparency ledger move too: they outlive the data.
    gone = new_id()
    pong(client, gone)
    assert client.delete(f"/track/{gone}/").status_code == 200
    day = day_of(clock.now)
    source.archive(day, [("day_stats", 1, b'{"day":1}')], [("octolapse", "{}")])
    ledger = source.daily_counts(day, day)
    expected = client.get("/api/stats").get_json()
    get_collector(source_app).close()

    result = CliRunner().invoke(main, ["copy", "--db", str(db_path), "--to", db])
    assert result.exit_code == 0, result.output
    assert "instances: 12" in result.output and "events: 12" in result.output
    copied = make_app()  # on the PostgreSQL database
    assert copied.test_client().get("/api/stats").get_json() == expected
    target = get_collector(copied).store
    assert target.archive_file(day, "day_stats").body == b'{"day":1}'
    assert target.archived_entries("octolapse") == {day: "{}"}
    assert ledger[day][("forgotten", "instances")] == 1
    assert target.daily_counts(day, day) == ledger
    # New instances get fresh ids after the copied ones.
    assert copied.test_client().get(f"/track/{new_id()}/startup/").status_code == 200
    assert instance_count(get_collector(copied).store) == 13
    # A second copy into a non-empty store is refused.
    again = CliRunner().invoke(main, ["copy", "--db", str(db_path), "--to", db])
    assert again.exit_code != 0


@pytest.mark.parametrize("backend", ["postgresql"])
def test_copy_recomputes_the_rollups_with_the_configured_lifetime_rule(db, db_path):
    from click.testing import CliRunner

    from tracking_collector.cli import main
    from tracking_collector.store import Report, SQLiteStore, open_store

    # Seen once, two hours ago: ephemeral under the default rule, public with the
    # operator's TRACKING_COLLECTOR_MIN_LIFETIME=0.
    source = SQLiteStore(str(db_path))
    seen = time.time() - 2 * 3600
    source.add_many([Report(new_id(), "ping", seen, "1.11.8") for _ in range(4)])
    source.close()
    result = CliRunner().invoke(
        main,
        ["copy", "--db", str(db_path), "--to", db],
        env={"TRACKING_COLLECTOR_MIN_LIFETIME": "0"},
    )
    assert result.exit_code == 0, result.output
    target = open_store(db, pool_size=2)
    try:
        assert target.window(7).get("active", {}).get("") == 4
    finally:
        target.close()


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("mode, expected", [("NORMAL", "off"), ("FULL", "on")])
def test_synchronous_setting_maps_to_synchronous_commit(db, mode, expected):
    from tracking_collector.store import open_store

    store = open_store(db, synchronous=mode, pool_size=2)
    try:
        with store.engine.read() as q:
            assert q.rows("SHOW synchronous_commit") == [(expected,)]
    finally:
        store.close()


def _mixed_batches(seed: int, batches: int = 150) -> list[list]:
    """Batches of every kind of report: new and known instances (some of them
    several times in one batch), pongs with plugins, prints with their seconds,
    events, reports dated back up to three days, held instances of cohorts."""
    import random

    from tracking_collector.store import Report

    rng = random.Random(seed)
    fleet = [new_id() for _ in range(60)]
    now = 1_790_000_000.0
    kinds = [
        ("ping", {}),
        ("pong", {"version": "1.11.8", "python": "3.11.2", "plugins": "a:1,b:2"}),
        ("print_started", {}),
        ("print_done", {"elapsed": "3600.5"}),
        ("print_failed", {"elapsed": "12"}),
        ("startup", {"version": "1.10.3", "os": "linux", "pi_model": "4B"}),
        ("install_plugin", {"plugin": "octolapse", "plugin_version": "0.4.2"}),
        ("webui_load", {"browser_name": "Firefox", "browser_version": "133.0"}),
    ]
    out = []
    for _ in range(batches):
        batch = []
        for _ in range(rng.randint(1, 24)):
            event, fields = rng.choice(kinds)
            instance = rng.choice(fleet)
            # A quarter of the fleet is held now and then (held stays).
            suspect = instance in fleet[:15]
            held = (
                rng.choice([None, "source_burst", "implausible:x"]) if suspect else None
            )
            batch.append(
                Report(
                    instance,
                    event,
                    now - rng.choice([0, 0, 0, 1, 3]) * 86400 + rng.random() * 3600,
                    version=fields.get("version"),
                    country=rng.choice(["DE", "unknown"]),
                    fields=dict(fields),
                    held=held,
                    cohort=rng.choice(["c1", "c2"]) if held else None,
                )
            )
        now += 60
        out.append(batch)
    return out


def _contents(store) -> dict:
    from testkit import rows

    return {
        "instances": rows(store, "SELECT * FROM instances ORDER BY id"),
        "instance_days": rows(
            store, "SELECT * FROM instance_days ORDER BY day, instance_id"
        ),
        "print_hours": rows(
            store, "SELECT * FROM print_hours ORDER BY day, instance_id, hour"
        ),
        "events": rows(store, "SELECT * FROM events ORDER BY id"),
        "ingest_counts": rows(
            store,
            "SELECT day, event, SUM(n) FROM ingest_counts GROUP BY day, event"
            " ORDER BY day, event",
        ),
        "daily_counts": rows(
            store,
            "SELECT day, kind, key, SUM(n) FROM daily_counts GROUP BY day, kind, key"
            " ORDER BY day, kind, key",
        ),
        "dirty_days": rows(store, "SELECT DISTINCT day FROM dirty_days ORDER BY day"),
    }


def test_a_batch_in_one_statement_writes_the_same_rows_as_table_by_table(pg_cluster):
    from testkit import rows

    from tracking_collector.store import Store
    from tracking_collector.store.engine import Engine
    from tracking_collector.store.postgres import PostgresEngine

    class TableByTable(PostgresEngine):
        """The engine writing a batch one statement per table, in a transaction
        (as before)."""

        batch = Engine.batch
        write_batch = Engine.write_batch

    one = open_test_store(pg_cluster.new_database())
    reference = Store(TableByTable(pg_cluster.new_database(), pool_size=2))
    batches = _mixed_batches(seed=19)
    for n, batch in enumerate(batches):
        # Refused reports ride along with some commits (the transparency ledger).
        ledger = [(20_717, "refused", "invalid_event", n)] if n % 3 else []
        one.add_many(batch, ledger)
        reference.add_many(batch, ledger)
    got, want = _contents(one), _contents(reference)
    assert len(got["events"]) > 100 and len(got["instance_days"]) > 100
    assert got["print_hours"] and got["daily_counts"]
    assert {r[0] for r in rows(one, "SELECT held FROM instances")} >= {
        None,
        "source_burst",
    }
    for table in want:
        assert got[table] == want[table], table
    one.close()
    reference.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_one_read_sees_one_snapshot_while_others_commit(store, clock):
    # The rollups of a day and every published figure are computed from several
    # statements in one read: they must all see the same commits, or sums from
    # different moments disagree (Python majors over an hour's count).
    from tracking_collector.store import Report

    def commit_one() -> None:
        store.add_many([Report(new_id(), "ping", clock())])

    commit_one()
    with store.snapshot():
        before = stored(store)
        # Another connection (another thread's) commits meanwhile.
        writer = threading.Thread(target=commit_one)
        writer.start()
        writer.join()
        assert stored(store) == before
    assert stored(store) == before + 1
