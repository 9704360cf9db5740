"""Quarantine on the real store (SQLite and PostgreSQL): holds, lifetime filter,
source keys, the operator's commands and the admin page."""

from __future__ import annotations

import base64
import json
import logging
import threading

import pytest
import requests
from click.testing import CliRunner
from testkit import (
    TRUSTED_PROXY,
    UA,
    Gunicorn,
    count_rows,
    day_counts,
    eventually,
    new_id,
    open_test_store,
    source_keys,
)

from tracking_collector import Config
from tracking_collector.cli import main
from tracking_collector.runtime import get_collector
from tracking_collector.timefmt import day_of, utc_day
from tracking_collector.trust.admission import SOURCE_BURST

PROXY = {"REMOTE_ADDR": "127.0.0.1"}
DAY = 86400.0


@pytest.fixture
def make(make_app):
    """An app on the test's backend, trusting 127.0.0.1 as its proxy, with the
    lifetime rule at its default (the testkit's apps have it off)."""

    def factory(**config):
        config.setdefault("trusted_proxies", ["127.0.0.1"])
        config.setdefault("min_lifetime", Config.min_lifetime)
        return make_app(**config)

    return factory


def send(client, instance, event="ping", source="203.0.113.9", ua=UA, **fields):
    response = client.get(
        f"/track/{instance}/{event}/",
        query_string=fields,
        headers={"User-Agent": ua, "X-Forwarded-For": source},
        environ_base=PROXY,
    )
    assert response.status_code == 200, response.get_json()


def burst(client, n, source="198.51.100.7", event="ping", **fields):
    ids = [new_id() for _ in range(n)]
    for instance in ids:
        send(client, instance, event, source=source, **fields)
    return ids


def public_7d(collector) -> int:
    collector.store.refresh(collector.clock(), force=True)
    return collector.store.window(7).get("active", {}).get("", 0)


def test_a_source_over_its_budget_has_all_its_new_ids_of_the_day_held(make):
    app = make(new_ids_per_source=5)
    store = get_collector(app).store
    ids = burst(app.test_client(), 8)
    assert {store.instance(i).held for i in ids} == {SOURCE_BURST}
    assert len({store.instance(i).cohort for i in ids}) == 1
    assert public_7d(get_collector(app)) == 0


def test_instances_of_other_networks_stay_public(make):
    app = make(new_ids_per_source=5)
    client = app.test_client()
    burst(client, 8)
    real = [new_id() for _ in range(3)]
    for n, instance in enumerate(real):
        send(client, instance, source=f"2001:db8:{n + 1}::5")
    assert public_7d(get_collector(app)) == 3


def test_a_farm_reporting_every_day_is_never_held(make, clock):
    app = make(new_ids_per_source=50)
    client = app.test_client()
    farm = burst(client, 45, source="192.0.2.10")
    for _ in range(3):
        clock.advance(DAY)
        for instance in farm:
            send(client, instance, source="192.0.2.10")
    store = get_collector(app).store
    assert all(store.instance(i).held is None for i in farm)
    assert public_7d(get_collector(app)) == 45


def test_impossible_environment_is_held_with_its_rule(make):
    app = make()
    instance = new_id()
    send(app.test_client(), instance, event="startup", version="1.10.0", python="2.7.18")
    assert get_collector(app).store.instance(instance).held == (
        "implausible:python_version"
    )


def test_ephemeral_instance_leaves_the_public_numbers_once_gone(make, clock):
    app = make()
    collector = get_collector(app)
    client = app.test_client()
    long_lived, short_lived = new_id(), new_id()
    send(client, long_lived, source="2001:db8:1::1")
    send(client, short_lived, source="2001:db8:2::1")
    clock.advance(10 * 60)
    send(client, short_lived, source="2001:db8:2::1")
    assert public_7d(collector) == 2  # not judged while it may come back
    for _ in range(3):
        clock.advance(30 * 60)
        send(client, long_lived, source="2001:db8:1::1")
    assert public_7d(collector) == 1
    day = int(clock() // DAY)
    assert day_counts(collector.store, day)[("active", "")] == 1
    # Kept, not deleted.
    assert collector.store.instance(short_lived) is not None


def test_source_keys_are_destroyed_after_their_day(make, clock):
    app = make()
    collector = get_collector(app)
    send(app.test_client(), new_id())
    first_day = utc_day(clock())
    assert list(source_keys(collector.store)) == [first_day]
    clock.advance(DAY)
    collector.housekeeping()
    assert list(source_keys(collector.store)) == [utc_day(clock())]


def test_a_forgotten_instance_reporting_again_uses_its_networks_budget(make):
    # Budget 2: the forgotten instance, then two more new ids from its network.
    app = make(new_ids_per_source=2)
    client = app.test_client()
    store = get_collector(app).store
    forgotten = new_id()
    send(client, forgotten, source="198.51.100.7")
    send(client, forgotten, source="198.51.100.7")  # now a known id in this process
    assert client.delete(f"/track/{forgotten}/").status_code == 200
    burst(client, 2)
    # Its id is new again: the network is over its budget, so it is held.
    send(client, forgotten, source="198.51.100.7")
    assert store.instance(forgotten).held == SOURCE_BURST


def test_a_known_id_reporting_just_after_its_delete_was_queued_is_a_new_id(make):
    # One process: the DELETE of an id it knows is the writer's, its report is
    # decided (as known) and queued before the forget commits. Written after it,
    # the report re-creates the id: a new id of its network (budget 1, which
    # another id already used), held, and noted among the network's new ids.
    app = make(new_ids_per_source=1)
    collector = get_collector(app)
    store, writer = collector.store, collector.writer
    client = app.test_client()
    returning = new_id()
    send(client, returning, source="198.51.100.7")
    send(client, new_id(), source="203.0.113.50")  # its network's budget used
    forgetting, report_queued = threading.Event(), threading.Event()
    forget, add = writer.store.forget, writer.add

    def forget_once_the_report_is_queued(*args):
        forgetting.set()
        assert report_queued.wait(10)
        return forget(*args)

    def noted_add(report):
        future = add(report)
        report_queued.set()
        return future

    writer.store.forget, writer.add = forget_once_the_report_is_queued, noted_add
    deleted = []
    delete = threading.Thread(
        target=lambda: deleted.append(client.delete(f"/track/{returning}/").status_code)
    )
    delete.start()
    assert forgetting.wait(10)
    with app.test_client() as other:
        send(other, returning, source="203.0.113.50")
    delete.join(20)
    assert deleted == [200]
    assert store.instance(returning).held == SOURCE_BURST
    assert count_rows(store, "source_new") == 3
    assert collector.sources.state.is_known(returning)


def test_a_report_and_a_delete_of_one_id_leave_it_new_however_late_the_report_wakes(
    make,
):
    # A report of a new id, then its DELETE, submitted in that order. However
    # late the report's follow-up runs (here: until the forget was taken in, or
    # 1 s), the cache of known ids ends as the store does: without the id, so its
    # next report uses its network's budget again.
    app = make(new_ids_per_source=2)
    collector = get_collector(app)
    state = collector.sources.state
    # The day's source key first: the report below then needs no other write.
    send(app.test_client(), new_id(), source="198.51.100.7")
    instance = new_id()
    forgotten = threading.Event()
    remember, forget_known = state.remember, state.forget_known

    def late_remember(iid):
        forgotten.wait(1.0)
        remember(iid)

    def noted_forget(iid):
        forget_known(iid)
        forgotten.set()

    state.remember, state.forget_known = late_remember, noted_forget
    submitted = threading.Event()
    add = collector.writer.add

    def noted_add(report):
        future = add(report)
        submitted.set()
        return future

    collector.writer.add = noted_add
    answers = {}

    def request(method):
        try:
            with app.test_client() as client:
                path = f"/track/{instance}/" + ("ping/" if method == "get" else "")
                response = getattr(client, method)(
                    path, headers={"User-Agent": UA, "X-Forwarded-For": "198.51.100.7"},
                    environ_base=PROXY,
                )  # fmt: skip
                answers[method] = response.status_code
        except Exception as exc:  # noqa: BLE001 - shown by the assertion below
            answers[method] = repr(exc)

    threads = [threading.Thread(target=request, args=("get",))]
    threads[0].start()
    assert submitted.wait(10)  # the report is the writer's first
    threads.append(threading.Thread(target=request, args=("delete",)))
    threads[1].start()
    for thread in threads:
        thread.join(20)
    assert answers == {"get": 200, "delete": 200}
    assert state.is_known(instance) is None


def test_a_source_past_its_budget_is_answered_before_its_hold_commits(make):
    app = make(new_ids_per_source=1)
    collector = get_collector(app)
    store = collector.store
    gate = threading.Event()
    hold_cohort = store.hold_cohort

    def gated_hold(cohort, reason):
        gate.wait(20)
        return hold_cohort(cohort, reason)

    store.hold_cohort = gated_hold
    client = app.test_client()
    first = new_id()
    send(client, first, source="198.51.100.7")
    answered = threading.Event()
    second = new_id()

    def past_budget():
        with app.test_client() as other:
            send(other, second, source="198.51.100.7")
        answered.set()

    thread = threading.Thread(target=past_budget)
    thread.start()
    try:
        # Stored held (its own decision), answered while its cohort's hold waits.
        assert answered.wait(10)
        assert store.instance(second).held == SOURCE_BURST
        assert store.instance(first).held is None
    finally:
        gate.set()
        thread.join(20)
    eventually(lambda: store.instance(first).held == SOURCE_BURST, what="cohort held")


def test_a_forgotten_instance_uses_its_networks_budget_in_every_worker(tmp_path, db):
    # As above, under gunicorn: the DELETE is served by one worker, the id comes
    # back through the other, whose cache of known ids still holds it.
    env = {
        "TRACKING_COLLECTOR_TRUSTED_PROXIES": TRUSTED_PROXY,
        "TRACKING_COLLECTOR_NEW_IDS_PER_SOURCE": "2",
        # No loop runs meanwhile: a worker is stopped only while idle.
        "TRACKING_COLLECTOR_REFRESH_INTERVAL": "3600",
        "TRACKING_COLLECTOR_PURGE_INTERVAL": "3600",
    }
    forgotten = new_id()

    def report(server, instance):
        response = requests.get(
            f"{server.url}/track/{instance}/ping/",
            headers={"User-Agent": UA, "X-Forwarded-For": "198.51.100.7"},
            timeout=20,
        )
        assert response.status_code == 200, response.text

    with Gunicorn(tmp_path, db, **env) as server:
        eventually(lambda: len(server.workers()) == 2, what="two workers")
        first, second = server.workers()
        with server.only(first):
            report(server, forgotten)
        with server.only(second):
            report(server, forgotten)  # known to both workers now
        with server.only(first):
            assert requests.delete(f"{server.url}/track/{forgotten}/").status_code == 200
            for instance in (new_id(), new_id()):
                report(server, instance)
        with server.only(second):
            report(server, forgotten)
        store = open_test_store(db)
        try:
            record = store.instance(forgotten)
        finally:
            store.close()
    assert record is not None and record.held == SOURCE_BURST


def test_decisions_are_logged_without_addresses_or_ids(make, caplog):
    app = make(new_ids_per_source=2)
    with caplog.at_level(logging.INFO, logger="tracking_collector"):
        ids = burst(app.test_client(), 4)
    assert SOURCE_BURST in caplog.text
    for secret in ("198.51.100", *ids):
        assert secret not in caplog.text


def test_a_new_instance_held_by_the_writer_is_logged_once_stored(make, caplog):
    app = make()
    with caplog.at_level(logging.INFO, logger="tracking_collector"):
        send(app.test_client(), new_id(), "startup", version="1.10.0", python="2.7.18")
    assert "Holding new instance of cohort" in caplog.text
    assert "implausible:python_version" in caplog.text


# ---- operator -----------------------------------------------------------------------


def cli(db, *args, env=None):
    result = CliRunner().invoke(main, [*args, "--db", db, "--pool-size", "2"], env=env)
    return result


def test_suspects_lists_cohorts_with_reasons_and_plugins(make, db):
    app = make(new_ids_per_source=2)
    burst(app.test_client(), 4, event="pong", plugins="acme_cloudprint:1.0,octolapse:0.4")
    result = cli(db, "suspects", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["instances"] == 4
    assert row["reasons"] == {SOURCE_BURST: 4}
    assert ["acme_cloudprint", 4] in row["plugins"]
    text = cli(db, "suspects").output
    assert row["cohort"] in text and "198.51.100" not in text


def test_release_puts_a_cohort_into_the_public_numbers(make, db):
    app = make(new_ids_per_source=2)
    collector = get_collector(app)
    burst(app.test_client(), 4)
    (cohort,) = collector.store.cohorts()
    result = cli(db, "release", cohort.cohort)
    assert result.exit_code == 0, result.output
    assert "released 4 instances" in result.output
    assert public_7d(collector) == 4
    assert collector.store.cohorts() == []


def test_release_recomputes_the_rollups_with_the_configured_lifetime_rule(make, db):
    # The operator switched the lifetime rule off: instances seen once, two hours
    # ago, are public. The command's recomputation must apply that rule too.
    app = make(new_ids_per_source=2, min_lifetime=0)
    store = get_collector(app).store
    burst(app.test_client(), 4, age=2 * 3600)
    (cohort,) = store.cohorts()
    result = cli(
        db, "release", cohort.cohort, env={"TRACKING_COLLECTOR_MIN_LIFETIME": "0"}
    )
    assert result.exit_code == 0, result.output
    # Read as the command left the rollups (no refresh by this app in between).
    assert store.window(7).get("active", {}).get("") == 4


def test_purge_cohort_deletes_its_instances(make, db):
    app = make(new_ids_per_source=2)
    collector = get_collector(app)
    ids = burst(app.test_client(), 4)
    (cohort,) = collector.store.cohorts()
    result = cli(db, "purge-cohort", cohort.cohort)
    assert result.exit_code == 0, result.output
    assert all(collector.store.instance(i) is None for i in ids)


def test_purge_cohort_deletes_only_its_held_instances(make, db, clock):
    # A cohort is the source of the day an instance appeared: public instances of
    # that network share it with the one held for an implausible report.
    app = make()
    collector = get_collector(app)
    client = app.test_client()
    public = [new_id() for _ in range(3)]
    for instance in public:
        send(client, instance)
    held = new_id()
    send(client, held, "startup", version="1.10.0", python="2.7.18")
    (cohort,) = collector.store.cohorts()
    assert cohort.instances == 1
    result = cli(db, "purge-cohort", cohort.cohort)
    assert result.exit_code == 0, result.output
    assert "purged 1 instances" in result.output
    assert collector.store.instance(held) is None
    assert all(collector.store.instance(i) is not None for i in public)
    day = day_of(clock())
    counts = collector.store.daily_counts(day, day)[day]
    assert counts[("purged", "instances")] == 1


def test_purge_of_the_cohortless_group_spares_public_instances(make, db):
    # "" is how suspects lists held instances without a cohort: purging it must
    # not reach the public instances that have none either.
    app = make()
    collector = get_collector(app)
    client = app.test_client()
    send(client, new_id(), "startup", version="1.10.0", python="2.7.18")
    # No address in this request, so no source and no cohort.
    public = new_id()
    response = client.get(
        f"/track/{public}/ping/",
        headers={"User-Agent": UA},
        environ_base={"REMOTE_ADDR": ""},
    )
    assert response.status_code == 200
    assert collector.store.instance(public).cohort is None
    result = cli(db, "purge-cohort", "")
    assert result.exit_code != 0
    assert collector.store.instance(public) is not None


def test_unknown_cohort_is_a_clear_error(make, db):
    make()
    result = cli(db, "release", "0000000000000000")
    assert result.exit_code != 0
    assert "no instance" in result.output


def test_admin_page_is_absent_without_a_token(make):
    response = make().test_client().get("/admin/suspects")
    assert response.status_code == 404


@pytest.mark.parametrize("backend", ["sqlite"])
def test_admin_page_needs_the_token(make):
    client = make(admin_token="s3cret").test_client()
    assert client.get("/admin/suspects").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/admin/suspects", headers=wrong).status_code == 401


@pytest.mark.parametrize("backend", ["sqlite"])
def test_admin_page_shows_the_cohorts(make):
    app = make(admin_token="s3cret", new_ids_per_source=2)
    client = app.test_client()
    burst(client, 4, event="pong", plugins="acme_cloudprint:1.0")
    (cohort,) = get_collector(app).store.cohorts()
    basic = "Basic " + base64.b64encode(b"admin:s3cret").decode()
    page = client.get("/admin/suspects", headers={"Authorization": basic})
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert cohort.cohort in html and "acme_cloudprint" in html
    assert "198.51.100" not in html
    rows = client.get(
        "/admin/suspects?format=json", headers={"Authorization": "Bearer s3cret"}
    ).get_json()
    assert rows[0]["instances"] == 4
