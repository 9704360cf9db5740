"""Durability: an acknowledged report is never lost, across close/reopen and kill -9."""

from __future__ import annotations

import itertools
import json
import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from testkit import (
    Gunicorn,
    day_counts,
    eventually,
    instance_count,
    new_id,
    open_test_store,
    rows,
    stored,
    uuids,
    writer_reruns,
)

from tracking_collector.runtime import get_collector
from tracking_collector.store import BatchWriter, Report, SQLiteStore
from tracking_collector.store.writer import ATTEMPTS


def test_acknowledged_reports_survive_closing_and_reopening(make_app):
    app = make_app()
    ids = [new_id() for _ in range(60)]

    def send(iid):
        with app.test_client() as c:
            return c.post(f"/track/{iid}/pong/", data="version=1.11.8").status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(send, ids))
    assert statuses == [200] * 60
    get_collector(app).close()

    reopened = make_app()
    store = get_collector(reopened).store
    assert set(uuids(store)) == set(ids)
    assert stored(store) == 60


class CountingStore(SQLiteStore):
    """Counts its commits of reports; one of them can be held inside until
    ``gate`` opens (``inside`` tells when it is)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commits = 0
        self.gate: threading.Event | None = None
        self.inside = threading.Event()

    def add_many(self, reports, counts=()):
        self.commits += 1
        if self.gate is not None:
            self.inside.set()
            self.gate.wait(10)
            self.gate = None
        return super().add_many(reports, counts)


@pytest.fixture
def counting_store(tmp_path):
    store = CountingStore(str(tmp_path / "counting.sqlite"))
    yield store
    store.close()


def test_writer_batches_concurrent_submissions_into_few_commits(counting_store):
    store = counting_store
    writer = BatchWriter(store)
    with store.write_lock():  # they queue up behind another writer's commit
        futures = [writer.add(Report(new_id(), "ping", 0.0)) for _ in range(200)]
    assert all(f.result(timeout=10) for f in futures)
    writer.close()
    assert stored(store) == 200
    assert store.commits < 20


def test_writer_applies_operations_in_order(tmp_path):
    store = SQLiteStore(str(tmp_path / "o.sqlite"))
    writer = BatchWriter(store)
    iid = new_id()
    with store.write_lock():  # one batch
        first = writer.add(Report(iid, "shutdown", 1.0))
        gone = writer.forget(iid)
        last = writer.add(Report(iid, "startup", 2.0))
    assert first.result(10) and gone.result(10) >= 1 and last.result(10)
    writer.close()
    record = store.instance(iid)
    assert [e.event for e in record.events] == ["startup"]
    assert record.first_seen == 2.0
    store.close()


def test_failed_write_is_not_acknowledged(make_app):
    class FailingStore(SQLiteStore):
        def add_many(self, reports, counts=()):
            raise OSError("disk full")

    import tempfile

    store = FailingStore(tempfile.mktemp(suffix=".sqlite"))
    app = make_app(store=store)
    response = app.test_client().get(f"/track/{new_id()}/ping/")
    assert response.status_code == 503
    assert response.get_json()["error"] == "store_unavailable"


class _Load:
    """Clients reporting until stopped, each on its own connection: new ids
    (pings) and, from an instance of its own, numbered events. Records what the
    collector acknowledged."""

    def __init__(self, url: str, clients: int):
        self.url = url
        self.new_ids: list[str] = []  # acknowledged pings, each of a new id
        self.events: list[tuple[str, str]] = []  # acknowledged (instance, seq)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def acknowledged(self) -> int:
        return len(self.new_ids) + len(self.events)

    def _run(self) -> None:
        own = new_id()
        with requests.Session() as http:
            for seq in itertools.count():
                if self.stop.is_set():
                    return
                iid = new_id() if seq % 2 else own
                event = "ping" if seq % 2 else "startup"
                try:
                    r = http.get(f"{self.url}/track/{iid}/{event}/?seq={seq}", timeout=30)
                except requests.RequestException:
                    continue  # the collector is gone: nothing acknowledged
                if r.status_code == 200 and r.json() == {"ok": True}:
                    if seq % 2:
                        self.new_ids.append(iid)
                    else:
                        self.events.append((iid, str(seq)))

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def test_kill_9_of_every_collector_process_under_load_loses_no_acknowledged_report(
    tmp_path, db
):
    # gunicorn with the shipped config and its 3 workers, clients reporting at
    # full speed; then SIGKILL of the master and every worker at once.
    env = {
        "TRACKING_COLLECTOR_WORKERS": "3",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    server = Gunicorn(tmp_path, db, **env).__enter__()
    killed: list[int] = []
    try:
        load = _Load(server.url, clients=12)
        try:
            eventually(lambda: load.acknowledged() >= 600, timeout=60, what="load")
            killed = server.kill_all()
        finally:
            load.join()
    finally:
        # Failed before the kill (the load timed out): no gunicorn left running.
        if not killed:
            server.kill_all()
        server.stop(signal.SIGKILL)  # closes its log
    assert len(killed) == 4
    store = open_test_store(db)
    assert set(load.new_ids) <= set(uuids(store))
    stored_events = {
        (uuid, json.loads(fields)["seq"])
        for uuid, fields in rows(
            store,
            "SELECT i.uuid, e.fields FROM events e JOIN instances i"
            " ON i.id = e.instance_id",
        )
    }
    assert set(load.events) <= stored_events
    # Reports committed but not answered before the kill may be stored too.
    assert stored(store) >= load.acknowledged() >= 600
    before = stored(store)
    store.close()

    # The collector starts again on the same store and takes reports.
    with Gunicorn(tmp_path, db, **env) as restarted:
        again = [new_id() for _ in range(20)]
        for iid in again:
            r = requests.get(f"{restarted.url}/track/{iid}/ping/", timeout=30)
            assert r.json() == {"ok": True}
    store = open_test_store(db)
    assert set(again) <= set(uuids(store))
    assert stored(store) == before + 20
    store.close()


def test_large_batches_are_stored_completely_and_in_order(tmp_path):
    store = SQLiteStore(str(tmp_path / "big.sqlite"))
    iid = new_id()
    # Spans several multi-row INSERT chunks.
    store.add_many(
        [Report(iid, "startup", float(i), fields={"n": str(i)}) for i in range(300)]
    )
    events = store.instance(iid, events=300).events
    assert [e.fields["n"] for e in events] == [str(i) for i in reversed(range(300))]
    store.close()


def test_two_writers_on_one_database_store_every_acknowledged_report(db):
    # Two gunicorn workers each own a store and a writer on the same database.
    stores = [open_test_store(db), open_test_store(db)]
    writers = [BatchWriter(s) for s in stores]

    def send(i):
        return writers[i % 2].add(Report(new_id(), "ping", float(i))).result(10)

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(send, range(400)))
    for w in writers:
        w.close()
    assert stored(stores[0]) == 400
    assert instance_count(stores[1]) == 400
    for s in stores:
        s.close()


def test_sqlite_before_3_35_without_returning_stores_the_same(tmp_path, monkeypatch):
    # Debian 11's SQLite (3.34) has no RETURNING: instance ids are selected instead.
    from tracking_collector.store import sqlite as sqlite_backend

    monkeypatch.setattr(sqlite_backend, "HAS_RETURNING", False)
    store = SQLiteStore(str(tmp_path / "old.sqlite"))
    ids = [new_id() for _ in range(30)]
    store.add_many([Report(i, "startup", 1000.0 + n) for n, i in enumerate(ids)])
    store.add_many([Report(i, "ping", 2000.0) for i in ids])
    assert sorted(uuids(store)) == sorted(ids)
    assert all(len(store.instance(i).events) == 1 for i in ids)
    assert stored(store) == 60
    assert store.refresh(3000.0) and day_counts(store, 0)[("active", "")] == 30
    store.close()


class _LosesDeadlocks:
    """The writer's store, except that its first ``losses`` commits of reports are
    rolled back as PostgreSQL rolls back a deadlock victim."""

    def __init__(self, store, losses: int):
        self.store = store
        self.losses = losses
        self.calls = 0

    def add_many(self, reports, counts=()):
        import psycopg.errors

        self.calls += 1
        if self.calls <= self.losses:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        return self.store.add_many(reports, counts)

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_writer_runs_a_batch_that_lost_a_deadlock_again(db, caplog):
    store = open_test_store(db)
    flaky = _LosesDeadlocks(store, losses=1)
    writer = BatchWriter(flaky)
    with caplog.at_level(logging.WARNING, logger="tracking_collector"):
        assert writer.add(Report(new_id(), "ping", 1.0)).result(10)
        writer.close()
    assert flaky.calls == 2
    # What the concurrency test looks for in a collector's log to tell that no
    # write was lost and run again: the line this run wrote.
    assert len(writer_reruns(caplog.text)) == 1
    assert stored(store) == 1
    store.close()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_writer_gives_up_after_a_few_lost_deadlocks_and_acknowledges_nothing(db):
    store = open_test_store(db)
    flaky = _LosesDeadlocks(store, losses=100)
    writer = BatchWriter(flaky)
    with pytest.raises(Exception, match="deadlock"):
        writer.add(Report(new_id(), "ping", 1.0)).result(10)
    writer.close()
    assert flaky.calls == ATTEMPTS
    assert stored(store) == 0
    store.close()


def test_a_batch_the_database_cannot_take_fails_whole_not_again_nor_one_by_one(
    tmp_path,
):
    import sqlite3

    class DiskFull(SQLiteStore):
        calls = 0

        def add_many(self, reports, counts=()):
            type(self).calls += 1
            raise sqlite3.OperationalError("database or disk is full")

    store = DiskFull(str(tmp_path / "full.sqlite"))
    writer = BatchWriter(store)
    with store.write_lock():  # one batch
        futures = [writer.add(Report(new_id(), "ping", 1.0)) for _ in range(5)]
    for future in futures:
        with pytest.raises(sqlite3.OperationalError):
            future.result(10)
    writer.close()
    assert DiskFull.calls == 1
    store.close()


def _only_the_bad_report_fails(db, bad: Report, error: type) -> None:
    """A batch of 21 with ``bad`` in the middle: ``bad`` fails with ``error``, the
    20 others are acknowledged and stored."""
    store = open_test_store(db)
    writer = BatchWriter(store)
    with store.write_lock():  # all 21 reports queue up: one batch
        good = [writer.add(Report(new_id(), "ping", float(i))) for i in range(10)]
        failed = writer.add(bad)
        good += [writer.add(Report(new_id(), "ping", float(i))) for i in range(10)]
    assert all(f.result(10) for f in good)
    with pytest.raises(error):
        failed.result(10)
    writer.close()
    assert stored(store) == 20
    store.close()


def test_one_report_the_store_cannot_take_fails_alone_not_its_batch(db):
    # A field value that is not text cannot be written (the store's fold refuses
    # it): the batch fails, then each report is written alone.
    bad = Report(new_id(), "startup", 1.0, fields={"x": b"\x00"})  # type: ignore[dict-item]
    _only_the_bad_report_fails(db, bad, TypeError)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_value_postgresql_refuses_fails_only_its_own_report(db):
    # Validation refuses NUL at the door; past it (a bug, another client of the
    # store), PostgreSQL still refuses it, and only that report fails.
    import psycopg

    bad = Report(new_id(), "ping", 1.0, fields={"os": "li\x00nux"})
    _only_the_bad_report_fails(db, bad, psycopg.DataError)


def test_writer_lingers_for_more_reports_only_while_busy(counting_store):
    def report() -> Report:
        return Report(new_id(), "ping", 0.0)

    store = counting_store
    writer = BatchWriter(store, busy_wait=1.0)
    # Idle: a lone report is committed at once, without waiting for company.
    started = time.monotonic()
    assert writer.add(report()).result(10)
    assert time.monotonic() - started < 0.8
    # Busy: two reports queue up while a commit runs; the writer then lingers, so
    # reports arriving 50 ms apart join theirs.
    store.gate = threading.Event()
    first = writer.add(report())
    eventually(store.inside.is_set, timeout=10, what="a commit under way")
    waiting = [writer.add(report()) for _ in range(2)]
    before = store.commits
    store.gate.set()
    assert first.result(10)
    trickle = []
    for _ in range(5):
        trickle.append(writer.add(report()))
        time.sleep(0.05)  # the arrivals' spacing, not a wait for a condition
    assert all(f.result(10) for f in waiting + trickle)
    assert store.commits - before <= 2
    writer.close()
    assert stored(store) == 9


def test_a_batch_committed_with_an_unusable_answer_is_not_written_again(tmp_path):
    # The transaction committed, then something after it failed (here: the store
    # answers None instead of one result per report). Nothing may run it again,
    # neither whole nor one by one: the reports are stored once.
    class AnswersNothing(SQLiteStore):
        calls = 0

        def add_many(self, reports, counts=()):
            type(self).calls += 1
            super().add_many(reports, counts)

    store = AnswersNothing(str(tmp_path / "none.sqlite"))
    writer = BatchWriter(store)
    with store.write_lock():  # the three queue up and form one batch
        futures = [writer.add(Report(new_id(), "ping", 1.0)) for _ in range(3)]
    for future in futures:
        with pytest.raises(TypeError):
            future.result(10)
    writer.close()
    assert AnswersNothing.calls == 1
    assert stored(store) == 3
    store.close()


def test_a_failing_commit_timer_neither_fails_nor_repeats_a_committed_batch(
    tmp_path, monkeypatch
):
    from tracking_collector.ops import metrics

    class BrokenTimer:
        def observe(self, seconds):
            raise RuntimeError("metrics broken")

    monkeypatch.setattr(metrics, "COMMIT_SECONDS", BrokenTimer())
    store = SQLiteStore(str(tmp_path / "timed.sqlite"))
    writer = BatchWriter(metrics.InstrumentedStore(store))
    with store.write_lock():
        futures = [writer.add(Report(new_id(), "ping", 1.0)) for _ in range(3)]
    assert all(f.result(10).new for f in futures)
    writer.close()
    assert stored(store) == 3
    store.close()


def test_a_lone_report_after_a_busy_spell_is_committed_at_once(tmp_path):
    store = SQLiteStore(str(tmp_path / "idle.sqlite"))
    writer = BatchWriter(store, busy_wait=1.0)
    with store.write_lock():  # busy: three reports commit together
        held_up = [writer.add(Report(new_id(), "ping", 0.0)) for _ in range(3)]
    assert all(f.result(10) for f in held_up)
    time.sleep(0.2)  # the idle spell (part of the scenario, not a wait for a state)
    started = time.monotonic()
    assert writer.add(Report(new_id(), "ping", 0.0)).result(10)
    assert time.monotonic() - started < 0.8
    writer.close()
    store.close()
