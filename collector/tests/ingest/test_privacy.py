"""Privacy: IPs become country/city and are never stored or logged; forgetting works."""

from __future__ import annotations

import ipaddress
import logging

import pytest
from testkit import CLIENT_IP, TRUSTED_PROXY, day_counts, new_id, pong, uuids

from tracking_collector.ingest.address import GeoLookup, client_ip, parse_networks

TRUSTED = parse_networks(["127.0.0.1", "10.0.0.0/8"])


def _store_bytes(db_path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = db_path.with_name(db_path.name + suffix)
        if path.exists():
            data += path.read_bytes()
    return data


def _ip_patterns(ip: str) -> list[bytes]:
    # Text forms only: the store has no binary columns, and 4 packed bytes could
    # occur by chance in SQLite's page structures.
    return [ip.encode(), ip.encode("utf-16-le")]


def _backend_bytes(backend, db_path, request) -> bytes:
    """Every byte the store's engine wrote (SQLite file + WAL, or PostgreSQL's
    data directory, WAL and server log)."""
    if backend == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        cluster.checkpoint()
        return cluster.data_bytes()
    return _store_bytes(db_path)


def test_client_ip_is_geolocated_and_appears_nowhere_in_the_store(
    make_app, backend, db_path, geo_db, caplog, request
):
    caplog.set_level(logging.DEBUG)
    app = make_app(geoip=str(geo_db), trusted_proxies=[TRUSTED_PROXY])
    client = app.test_client()
    iid = new_id()
    headers = {"X-Forwarded-For": CLIENT_IP}
    env = {"REMOTE_ADDR": TRUSTED_PROXY}
    for event in ("startup", "ping", "print_started", "print_done"):
        response = client.get(
            f"/track/{iid}/{event}/?version=1.11.8", headers=headers, environ_base=env
        )
        assert response.status_code == 200
    response = client.post(
        f"/track/{iid}/pong/",
        data="os=linux&python=3.11.7",
        headers=headers,
        environ_base=env,
    )
    assert response.status_code == 200

    from tracking_collector.runtime import get_collector

    store = get_collector(app).store
    env = store.instance(iid).env
    assert (env["country"], env["city"]) == ("DE", "Berlin")
    client.get("/api/stats")  # rollups written too

    raw = _backend_bytes(backend, db_path, request)
    if backend == "sqlite":
        assert db_path.with_name(db_path.name + "-wal").exists(), "expected WAL mode"
    assert b"Berlin" in raw  # sanity: the search does see stored data
    for ip in (CLIENT_IP, TRUSTED_PROXY):
        for pattern in _ip_patterns(ip):
            assert pattern not in raw, f"{ip} found in store as {pattern!r}"
    if backend == "postgresql":
        log = request.getfixturevalue("pg_cluster").log_bytes()
        assert CLIENT_IP.encode() not in log
    for record in caplog.records:
        assert CLIENT_IP not in record.getMessage()
        assert TRUSTED_PROXY not in record.getMessage()


def test_forwarded_for_is_ignored_from_untrusted_peer(make_app, geo_db):
    app = make_app(geoip=str(geo_db), trusted_proxies=["10.0.0.1"])
    iid = new_id()
    app.test_client().get(
        f"/track/{iid}/ping/",
        headers={"X-Forwarded-For": CLIENT_IP},
        environ_base={"REMOTE_ADDR": "198.51.100.20"},
    )
    from tracking_collector.runtime import get_collector

    env = get_collector(app).store.instance(iid).env
    # The peer is the client here; its spoofable header must not choose the location.
    assert (env["country"], env["city"]) == ("FR", "Paris")


def test_location_is_unknown_without_geoip_database(make_app):
    from tracking_collector.runtime import get_collector

    app = make_app(min_group=1)
    client, store = app.test_client(), get_collector(app).store
    iid = new_id()
    client.get(f"/track/{iid}/ping/", environ_base={"REMOTE_ADDR": CLIENT_IP})
    env = store.instance(iid).env
    assert (env["country"], env["city"]) == (None, None)
    stats = client.get("/api/stats").get_json()
    assert (stats["countries"], stats["countries_unknown"]) == ([], 1)


@pytest.mark.parametrize(
    "peer, header, expected",
    [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("198.51.100.1", "203.0.113.7", "198.51.100.1"),
        ("127.0.0.1", "203.0.113.7, 10.1.2.3", "203.0.113.7"),
        ("127.0.0.1", "192.0.2.1, 203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", "garbage", "127.0.0.1"),
        ("127.0.0.1", None, "127.0.0.1"),
        ("::ffff:127.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("not-an-ip", "203.0.113.7", None),
    ],
)
def test_client_ip_trusts_forwarded_for_only_from_trusted_proxies(peer, header, expected):
    result = client_ip(peer, header, TRUSTED)
    assert (str(result) if result is not None else None) == expected


def test_geo_lookup_reads_country_and_city_from_mmdb(geo_db):
    geo = GeoLookup(str(geo_db))
    try:
        assert geo.lookup(ipaddress.ip_address("203.0.113.7")) == ("DE", "Berlin")
        assert geo.lookup(ipaddress.ip_address("2001:db8::5")) == ("NL", "Amsterdam")
        assert geo.lookup(ipaddress.ip_address("8.8.8.8")) == ("unknown", "unknown")
        assert geo.lookup(None) == ("unknown", "unknown")
    finally:
        geo.close()


def test_geo_lookup_survives_a_failing_reader():
    class Broken:
        def get(self, ip):
            raise ValueError("corrupt")

        def close(self):
            pass

    geo = GeoLookup(reader=Broken())
    assert geo.lookup(ipaddress.ip_address("203.0.113.7")) == ("unknown", "unknown")


def test_forget_deletes_every_row_of_the_instance_only(client, store):
    gone, kept = new_id(), new_id()
    for event in ("startup", "ping", "pong", "print_done"):
        client.get(f"/track/{gone}/{event}/")
        client.get(f"/track/{kept}/{event}/")
    before = store.instance(kept)
    response = client.delete(f"/track/{gone}/")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}
    assert store.instance(gone) is None
    assert uuids(store) == [kept]
    assert store.instance(kept) == before
    assert len(before.events) == 1 and len(before.days) == 1


def test_forget_takes_the_instance_out_of_the_public_numbers(client, store, clock):
    ids = [new_id() for _ in range(11)]
    for iid in ids:
        pong(client, iid, version="1.11.8", plugins="octolapse:1")
        client.get(
            f"/track/{iid}/print_done/", headers={"User-Agent": "OctoPrint/1.11.8"}
        )
    stats = client.get("/api/stats").get_json()
    assert stats["active"]["7d"]["instances"] == 11
    assert stats["plugins"] == [{"key": "octolapse", "instances": 11}]
    client.delete(f"/track/{ids[0]}/")
    stats = client.get("/api/stats").get_json()
    assert stats["active"]["7d"]["instances"] == 10
    assert stats["plugins"] == [{"key": "octolapse", "instances": 10}]
    assert stats["prints"]["per_day"][-1]["done"] == 10
    from tracking_collector.timefmt import day_of

    day = day_counts(store, day_of(clock.now))
    assert day[("active", "")] == 10 and day[("print_done", "1.11.8")] == 10


def test_forget_without_trailing_slash_and_unknown_instance_is_ok(client, store):
    iid = new_id()
    client.get(f"/track/{iid}/ping/")
    assert client.delete(f"/track/{iid.upper()}").status_code == 200
    assert store.instance(iid) is None
    assert client.delete(f"/track/{new_id()}/").status_code == 200


# PostgreSQL removes deleted rows physically at VACUUM (see the README), so the
# byte-level check is SQLite's, whose secure_delete + WAL scrub make it immediate.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_forgotten_data_is_not_left_in_the_database_file(client, store, db_path):
    iid = new_id()
    client.get(f"/track/{iid}/startup/?marker=forget-me-please")
    assert b"forget-me-please" in _store_bytes(db_path)
    client.delete(f"/track/{iid}/")
    assert b"forget-me-please" not in _store_bytes(db_path)
    assert iid.encode() not in _store_bytes(db_path)


class _FailingGeo(GeoLookup):
    """A lookup that fails unexpectedly, with the id in its message, as a store
    error may quote a row ("Key (uuid)=(...) already exists")."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def lookup(self, ip):
        raise RuntimeError(f"unexpected failure near {self.secret}")


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("fast_path", [True, False])
def test_an_internal_error_logs_no_instance_id(make_app, caplog, fast_path):
    instance = new_id()
    app = make_app(geo=_FailingGeo(instance), fast_path=fast_path)
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().get(f"/track/{instance.upper()}/ping/?x=1")
    assert response.status_code == 500
    assert response.get_json()["error"] == "internal_error"
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "Unhandled error on /track/<id>/ping/" in logged
    assert "RuntimeError" in logged  # the traceback is still there, redacted
    assert instance not in logged.lower()
