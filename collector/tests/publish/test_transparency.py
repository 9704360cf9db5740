"""The transparency report adds up: real refusals over HTTP, a real DELETE, held
cohorts released and purged with the operator's commands, against a running
collector on SQLite and on PostgreSQL."""

from __future__ import annotations

import json

import requests
from click.testing import CliRunner
from testkit import eventually, located_live_args, new_id, open_test_store
from testkit.schemas import check_schema

from tracking_collector.cli import main
from tracking_collector.runtime import get_collector
from tracking_collector.timefmt import day_of, parse_day

ORGANIC, RELEASED, PURGED = 3, 5, 4
# Refusals the test provokes: (path, how many, the code the collector answers).
BAD_ID = ("/track/not-a-uuid/ping/", 2, "invalid_instance_id")
BAD_EVENT = (f"/track/{new_id()}/no%20such/", 3, "invalid_event")


def send(url: str, network: str, n: int) -> tuple[list[str], int]:
    """``n`` new instances from one network, a ping and a pong each; their ids and
    the reports acknowledged."""
    ids, acked = [], 0
    with requests.Session() as http:
        for k in range(n):
            iid = new_id()
            http.headers["X-Forwarded-For"] = network.format(k + 1)
            for event in ("ping", "pong"):
                response = http.get(f"{url}/track/{iid}/{event}/", timeout=20)
                assert response.status_code == 200, response.text
                acked += 1
            ids.append(iid)
    return ids, acked


def cli(db: str, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--db", db, "--pool-size", "2"])
    assert result.exit_code == 0, result.output
    return result.output


def today(url: str) -> dict:
    doc = requests.get(f"{url}/api/transparency?days=7", timeout=20).json()
    return doc["days"][-1]


def test_the_transparency_report_adds_up_over_http(start_server, db, geo_db):
    server = start_server(*located_live_args(geo_db), "--new-ids-per-source", "3", db=db)
    url = server.url
    organic, acked = send(url, "203.0.113.{}", ORGANIC)
    for network, n in (("198.51.100.{}", RELEASED), ("192.0.2.{}", PURGED)):
        acked += send(url, network, n)[1]
    refused = {}
    for path, times, code in (BAD_ID, BAD_EVENT):
        for _ in range(times):
            response = requests.get(url + path, timeout=20)
            assert response.json()["error"] == code
        refused[code] = times
    big = requests.post(f"{url}/track/{new_id()}/pong/", data="x" * 70_000, timeout=20)
    assert big.json()["error"] == "body_too_large"
    refused["body_too_large"] = 1
    assert requests.delete(f"{url}/track/{organic[0]}/", timeout=20).status_code == 200

    # Refusals reach the ledger with the refresher's next flush; held instances
    # with its next snapshot.
    held = {"source_burst": RELEASED + PURGED}
    eventually(lambda: today(url)["refused"] == refused and today(url)["held"] == held)

    cohorts = {row["instances"]: row["cohort"] for row in json.loads(
        cli(db, "suspects", "--json")
    )}  # fmt: skip
    assert sorted(cohorts) == [PURGED, RELEASED]
    cli(db, "release", cohorts[RELEASED])
    cli(db, "purge-cohort", cohorts[PURGED])
    eventually(lambda: today(url)["held"] == {})

    report = requests.get(f"{url}/api/transparency?days=7", timeout=20).json()
    check_schema(report, "Transparency")
    day = report["days"][-1]
    assert day["refused"] == refused
    assert day["released"] == {"cohorts": 1, "instances": RELEASED}
    assert day["purged"] == {"cohorts": 1, "instances": PURGED}
    assert day["forgotten"] == 1
    assert day["expired"] == 0
    # Accepted: every acknowledged report, as the store counted them in ingest
    # (forgetting and purging delete instances, not the counters).
    store = open_test_store(db)
    try:
        stored = store.ingest_counts(parse_day(day["day"]))
    finally:
        store.close()
    assert day["accepted"] == acked == sum(sum(d.values()) for d in stored.values())
    assert report["totals"]["accepted"] == acked
    assert report["totals"]["refused"] == refused

    # The dashboard shows the same report.
    page = requests.get(url + "/", timeout=20).text
    assert "Transparency: reports and instances" in page
    assert f"<td>{acked}</td>" in page
    assert f"{RELEASED} (1 cohorts)" in page and f"{PURGED} (1 cohorts)" in page


def test_transparency_days_are_bounded(client):
    assert client.get("/api/transparency?days=0").status_code == 400
    assert client.get("/api/transparency?days=91").status_code == 400
    assert client.get("/api/transparency?days=x").get_json()["error"] == "invalid_days"
    # Digits Python's isdigit() knows but int() does not read (superscript two),
    # and ones int() reads but the API does not speak (Arabic-Indic three).
    for days in ("%C2%B2", "%D9%A3", "+3", " 3"):
        response = client.get(f"/api/transparency?days={days}")
        assert response.status_code == 400, days
        assert response.get_json()["error"] == "invalid_days"
    doc = client.get("/api/transparency?days=3").get_json()
    assert len(doc["days"]) == 3


def test_the_retention_purge_counts_the_instances_it_expires(make_app, clock):
    app = make_app(retention_days=30)
    client = app.test_client()
    for _ in range(3):
        assert client.get(f"/track/{new_id()}/ping/").status_code == 200
    clock.advance(31 * 86400)
    assert client.get(f"/track/{new_id()}/ping/").status_code == 200
    assert get_collector(app).purge() > 0
    day = client.get("/api/transparency?days=1").get_json()["days"][-1]
    assert (day["expired"], day["accepted"], day["forgotten"]) == (3, 1, 0)


def test_refusals_counted_until_shutdown_reach_the_ledger(db, clock):
    from tracking_collector import Config, create_app

    app = create_app(
        Config(db=db, pool_size=2),
        clock=clock,
        background_purge=False,
        background_refresh=False,
    )
    response = app.test_client().get("/track/not-a-uuid/ping/")
    assert response.get_json()["error"] == "invalid_instance_id"
    # No report committed them; closing the collector does.
    get_collector(app).close()
    store = open_test_store(db)
    try:
        day = day_of(clock.now)
        assert store.daily_counts(day, day) == {
            day: {("refused", "invalid_instance_id"): 1}
        }
    finally:
        store.close()
