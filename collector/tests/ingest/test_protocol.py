"""Tracking protocol endpoints, exercised as OctoPrint's tracking plugin calls them."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from testkit import UA, new_id, stored, uuids

import tracking_collector
from tracking_collector.timefmt import day_of


def _qs(**fields) -> str:
    # Same encoding as OctoPrint: urlencode, then spaces as %20.
    return urlencode(fields, doseq=True).replace("+", "%20")


@pytest.mark.parametrize("slash", ["/", ""])
def test_get_report_is_acknowledged_and_stored_with_or_without_trailing_slash(
    client, store, slash
):
    iid = new_id()
    query = _qs(octoprint_uptime=42, printer_state="Operational")
    url = f"/track/{iid}/ping{slash}?{query}"
    response = client.get(url, headers={"User-Agent": UA})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}
    # Acknowledged means stored: visible right after the response, no waiting.
    record = store.instance(iid)
    assert record.env["version"] == "1.11.8"
    [(day, hours, version, *prints)] = record.days
    assert (day, version, prints) == (day_of(record.last_seen), "1.11.8", [0, 0, 0, 0])
    assert hours == 1 << int(record.last_seen % 86400 // 3600)
    # A ping is activity, never a raw row: its fields are not kept.
    assert record.events == []
    assert store.ingest_counts()[day] == {"ping": 1}


def test_post_pong_body_without_content_type_is_parsed_like_octoprint_sends_it(
    client, store
):
    iid = new_id()
    body = _qs(
        version="1.11.8",
        os="linux",
        python="3.11.7",
        plugins="foo:1.0,Bar:2.1,foo:9,tracking:1.0",
        platform="linux",
        bits=64,
        cores=4,
        ram="3.8 GB",
    )
    response = client.post(
        f"/track/{iid}/pong/",
        data=body.encode(),
        headers={"User-Agent": UA, "Content-Type": ""},
    )
    assert response.status_code == 200, response.get_json()
    env = store.instance(iid).env
    # Stored normalised: third-party ids in lower case, sorted, each once.
    assert env["plugins"] == "bar:2.1,foo:1.0"
    assert (env["version"], env["os"], env["python"]) == ("1.11.8", "linux", "3.11.7")
    assert (env["bits"], env["cores"]) == ("64", "4")


def test_post_with_form_content_type_and_query_fields_merges_both(client, store):
    iid = new_id()
    response = client.post(f"/track/{iid}/startup/?a=1", data={"b": "2"})
    assert response.status_code == 200
    assert store.instance(iid).events[0].fields == {"a": "1", "b": "2"}


def test_version_falls_back_to_user_agent(client, store):
    iid = new_id()
    client.get(
        f"/track/{iid}/print_done/?origin=local&elapsed=12", headers={"User-Agent": UA}
    )
    record = store.instance(iid)
    assert record.env["version"] == "1.11.8" and record.days[0][2] == "1.11.8"


def test_version_field_wins_over_user_agent(client, store):
    iid = new_id()
    client.get(f"/track/{iid}/startup/?version=1.10.0", headers={"User-Agent": UA})
    assert store.instance(iid).events[0].version == "1.10.0"


def test_age_dates_the_report_back_and_is_not_stored_as_field(client, store, clock):
    iid = new_id()
    client.get(f"/track/{iid}/startup/?age=3600&reason=error")
    client.get(f"/track/{iid}/print_failed/?age=7200&reason=error")
    record = store.instance(iid)
    [event] = record.events
    assert event.ts == pytest.approx(clock.now - 3600)
    assert event.fields == {"reason": "error"}
    assert record.last_print == pytest.approx(clock.now - 7200)
    # Both land in the hours they claim.
    hours = {
        day_of(clock.now - a) * 24 + int((clock.now - a) % 86400 // 3600)
        for a in (3600, 7200)
    }
    assert {
        d * 24 + h for d, bits, *_ in record.days for h in range(24) if bits >> h & 1
    } == hours


def test_repeated_field_keeps_last_value(client, store):
    iid = new_id()
    client.get(f"/track/{iid}/startup/?x=1&x=2")
    assert store.instance(iid).events[0].fields == {"x": "2"}


def test_instance_id_is_stored_lower_case(client, store):
    iid = new_id()
    assert client.get(f"/track/{iid.upper()}/ping/").status_code == 200
    assert uuids(store) == [iid]


def test_commerror_and_plugin_events_are_accepted(client, store):
    iid = new_id()
    for event in ("commerror_timeout", "install_plugin", "printer_connected", "shutdown"):
        assert client.get(f"/track/{iid}/{event}/").status_code == 200
    # Newest first.
    assert [e.event for e in store.instance(iid).events] == [
        "shutdown",
        "printer_connected",
        "install_plugin",
        "commerror_timeout",
    ]


def test_unsupported_method_gets_json_405(client):
    response = client.put(f"/track/{new_id()}/ping/")
    assert response.status_code == 405
    assert response.get_json()["ok"] is False


def test_head_request_records_nothing(client, store):
    response = client.head(f"/track/{new_id()}/ping/")
    assert response.status_code == 405
    assert stored(store) == 0 and uuids(store) == []


def test_unknown_path_gets_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_openapi_document_is_served_and_matches_shipped_file(client):
    shipped = Path(tracking_collector.__file__).with_name("openapi.json")
    served = client.get("/openapi.json").get_json()
    assert served == json.loads(shipped.read_text())
    assert served["openapi"].startswith("3.")
    assert {
        "/track/{instance_id}/{event}/",
        "/track/{instance_id}/",
        "/api/stats",
    } <= set(served["paths"])


def test_concurrent_reports_are_all_acknowledged_and_stored(app, store):
    from concurrent.futures import ThreadPoolExecutor

    ids = [new_id() for _ in range(40)]

    def send(iid):
        with app.test_client() as c:
            return c.get(f"/track/{iid}/ping/?n=1").status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(send, ids)) == {200}
    assert stored(store) == 40
    assert sorted(uuids(store)) == sorted(ids)
