"""The real ``tracking-collector serve`` process, spoken to over HTTP with requests."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import requests
from collector_testkit import CLIENT_IP, UA, new_id, wait_for

from tracking_collector.store import SQLiteStore


def test_served_collector_stores_geolocates_and_forgets_over_http(
    start_server, tmp_path, geo_db
):
    db = tmp_path / "served.sqlite"
    server = start_server("--geoip", str(geo_db), "--trusted-proxy", "127.0.0.1", db=db)
    iid, other = new_id(), new_id()
    with requests.Session() as http:
        http.headers["User-Agent"] = UA
        fwd = {"X-Forwarded-For": CLIENT_IP}
        r = http.get(
            f"{server.url}/track/{iid}/ping/",
            params=urlencode({"octoprint_uptime": 5, "printer_state": "Printing"}),
            headers=fwd,
            timeout=10,
        )
        assert (r.status_code, r.json()) == (200, {"ok": True})
        # Exactly how OctoPrint posts pong: urlencoded str body, no Content-Type.
        body = urlencode(
            {"version": "1.11.8", "os": "linux", "plugins": "a:1,b:2"}
        ).replace("+", "%20")
        r = http.post(
            f"{server.url}/track/{iid}/pong/", data=body, headers=fwd, timeout=10
        )
        assert r.status_code == 200
        assert (
            http.get(f"{server.url}/track/{other}/startup", timeout=10).status_code == 200
        )

        r = http.get(f"{server.url}/track/{iid}/BAD/", timeout=10)
        assert r.status_code == 400 and r.json()["error"] == "invalid_event"
        r = http.post(
            f"{server.url}/track/{iid}/pong/", data=b"x=" + b"a" * 70000, timeout=10
        )
        assert r.status_code == 413

        store = SQLiteStore(str(db))
        try:
            reports = store.reports(iid)
            assert [r.event for r in reports] == ["ping", "pong"]
            assert {(r.country, r.city) for r in reports} == {("DE", "Berlin")}
            assert reports[1].fields["plugins"] == "a:1,b:2"

            # While the server runs, recent writes sit in the -wal file: search both.
            wal = db.with_name(db.name + "-wal")
            raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
            assert b"Berlin" in raw
            assert CLIENT_IP.encode() not in raw and b"127.0.0.1" not in raw

            r = http.delete(f"{server.url}/track/{iid}/", timeout=10)
            assert (r.status_code, r.json()) == (200, {"ok": True})
            assert store.count(iid) == 0 and store.count(other) == 1
            # Forgetting also scrubs the WAL: the location is gone from the disk.
            raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
            assert b"Berlin" not in raw
        finally:
            store.close()

        stats = http.get(f"{server.url}/api/stats", timeout=10).json()
        assert stats["min_group"] == 10
        assert http.get(f"{server.url}/openapi.json", timeout=10).json()["openapi"]
        assert "<svg" in http.get(server.url + "/", timeout=10).text

    server.stop()
    log = server.log()
    # The request log exists but carries neither client addresses nor instance ids.
    request_lines = [
        line for line in log.splitlines() if '"GET' in line or '"POST' in line
    ]
    assert request_lines, log
    for line in request_lines:
        assert "127.0.0.1" not in line
    assert CLIENT_IP not in log
    assert iid not in log and other not in log
    assert not re.search(r"octoprint_uptime|printer_state", log)


def test_served_collector_shuts_down_cleanly_on_sigterm(start_server):
    server = start_server()
    requests.get(f"{server.url}/track/{new_id()}/ping/", timeout=10)
    assert server.stop() == 0
    wait_for(lambda: server.proc.poll() is not None)
