"""The real ``tracking-collector serve`` process, spoken to over HTTP with requests."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import requests
from testkit import (
    CLIENT_IP,
    UA,
    eventually,
    located_live_args,
    new_id,
    open_test_store,
    uuids,
)


def test_served_collector_stores_geolocates_and_forgets_over_http(
    start_server, backend, db, geo_db, request
):
    # Groups of one shown: the forgotten instance's country must leave them.
    server = start_server(*located_live_args(geo_db), "--min-group", "1", db=db)
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

        def countries():
            stats = http.get(f"{server.url}/api/stats", timeout=10).json()
            return stats["countries"], stats.get("countries_unknown")

        eventually(lambda: countries() == ([{"key": "DE", "instances": 1}], 1))

        r = http.get(f"{server.url}/track/{iid}/BAD/", timeout=10)
        assert r.status_code == 400 and r.json()["error"] == "invalid_event"
        r = http.post(
            f"{server.url}/track/{iid}/pong/", data=b"x=" + b"a" * 70000, timeout=10
        )
        assert r.status_code == 413

        store = open_test_store(db)
        try:
            record = store.instance(iid)
            assert record.events == []  # ping and pong are state, not raw rows
            assert (record.env["country"], record.env["city"]) == ("DE", "Berlin")
            assert record.env["plugins"] == "a:1,b:2"
            assert store.ingest_counts() == {
                record.days[0][0]: {"ping": 1, "pong": 1, "startup": 1}
            }

            raw = _written(backend, db, request)
            assert b"Berlin" in raw
            assert CLIENT_IP.encode() not in raw and b"127.0.0.1" not in raw

            r = http.delete(f"{server.url}/track/{iid}/", timeout=10)
            assert (r.status_code, r.json()) == (200, {"ok": True})
            assert store.instance(iid) is None and uuids(store) == [other]
            if backend == "sqlite":
                # Forgetting also scrubs the WAL: the location is gone from the disk.
                assert b"Berlin" not in _written(backend, db, request)
        finally:
            store.close()

        stats = http.get(f"{server.url}/api/stats", timeout=10).json()
        assert stats["min_group"] == 1
        assert http.get(f"{server.url}/openapi.json", timeout=10).json()["openapi"]
        # The background refresher brings the rollups up to date within moments,
        # the forgotten instance (the only one in DE) taken out.
        eventually(lambda: countries() == ([], 1))
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


def _written(backend, db, request) -> bytes:
    if backend == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        cluster.checkpoint()
        return cluster.data_bytes()
    # While the server runs, recent writes sit in the -wal file: search both.
    path = Path(db)
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_served_collector_shuts_down_cleanly_on_sigterm(start_server):
    server = start_server()
    requests.get(f"{server.url}/track/{new_id()}/ping/", timeout=10)
    assert server.stop() == 0
    eventually(lambda: server.proc.poll() is not None)
