"""Issue 13 end to end: the manipulation of 2024 replayed over HTTP beside a real fleet.

A collector on loopback (real sockets, trusted proxy 127.0.0.1, a clock the test
moves along the replay) receives seven days of an organic fleet (print farm behind
one address included) and 1,800 fake instances from two networks. The public
numbers must stay within 15 % of the truth and count every organic instance; after
a key's day, neither an address nor the expired key may be left in the store.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from testkit import Clock, fleet, scrub, source_keys
from werkzeug.serving import make_server

from tracking_collector import Config, create_app
from tracking_collector.cli import PrivateRequestHandler
from tracking_collector.runtime import Collector, get_collector
from tracking_collector.timefmt import utc_day
from tracking_collector.trust.admission import SOURCE_BURST

DAY = 86400.0


def day_start(ts: float) -> float:
    return ts - ts % DAY


class Served:
    """The collector app on a loopback port, in this process (so its clock is ours)."""

    def __init__(self, app):
        self.app = app
        self.server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=PrivateRequestHandler
        )
        self.port = self.server.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        get_collector(self.app).close()


@pytest.fixture(scope="module")
def replay():
    # Six hours between organic pings and one hour between fake ones keep the run
    # short; what is tested (ids, lifetimes, sources) does not depend on it.
    start = day_start(1_790_000_000.0)
    return fleet.build(start, ping_every=6 * 3600, fake_ping_every=3600)


@dataclass
class Run:
    served: Served
    collector: Collector
    clock: Clock
    keys: dict[str, bytes]
    """Every source key the store held during the replay, by day."""

    store_bytes: Callable[[], bytes]
    """Every byte the database engine wrote for this store, read now."""


def run_replay(replay: fleet.Fleet, db: str, **config) -> tuple:
    clock = Clock(replay.start)
    config = Config(db=db, trusted_proxies=["127.0.0.1"], stats_cache=0, **config)
    app = create_app(
        config, clock=clock, background_purge=False, background_refresh=False
    )
    served = Served(app)
    collector = get_collector(app)
    keys_seen: dict[str, bytes] = {}
    sender = fleet.Sender("127.0.0.1", served.port)
    try:
        day = None
        for request in replay.requests:
            clock.now = request.ts
            status = sender.send(request)
            assert status == 200, request
            if utc_day(request.ts) != day:
                day = utc_day(request.ts)
                keys_seen.update(source_keys(collector.store))
        keys_seen.update(source_keys(collector.store))
        # Two hours after the end: the short-lived fakes are judged, and the day
        # of the last key is over; the hourly housekeeping destroys its key.
        clock.now = replay.end + 2 * 3600
        collector.housekeeping()
        collector.store.refresh(clock.now, force=True)
    finally:
        sender.close()
    return served, collector, clock, keys_seen


def _sqlite_bytes(path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        files = [path, Path(f"{path}-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())

    return read


def _postgres_bytes(cluster) -> Callable[[], bytes]:
    def read() -> bytes:
        cluster.checkpoint()
        return cluster.data_bytes()

    return read


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def run(request, replay, tmp_path_factory):
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        db, store_bytes = cluster.new_database(), _postgres_bytes(cluster)
    else:
        path = tmp_path_factory.mktemp("replay") / "t.sqlite"
        db, store_bytes = str(path), _sqlite_bytes(path)
    served, collector, clock, keys = run_replay(replay, db)
    yield Run(served, collector, clock, keys, store_bytes)
    served.close()


def within(value: int, truth: int, tolerance: float = 0.15) -> bool:
    return abs(value - truth) <= tolerance * truth


def test_public_seven_day_count_is_within_15_percent_of_the_truth(replay, run):
    collector = run.collector
    active = collector.store.window(7)["active"][""]
    assert within(active, replay.truth), (active, replay.truth)


def test_pushed_plugin_count_is_within_15_percent_of_the_truth(replay, run):
    collector = run.collector
    pushed = collector.store.window(7).get("plugin", {}).get(fleet.COMMERCIAL, 0)
    assert within(pushed, len(replay.commercial_organic)), pushed


def test_every_organic_instance_is_public_farm_included(replay, run):
    collector = run.collector
    held = {
        uuid: record.held
        for uuid in replay.organic
        if (record := collector.store.instance(uuid)) is None or record.held
    }
    assert held == {}
    assert collector.store.window(7)["active"][""] >= replay.truth


def test_public_stats_api_shows_the_true_counts(replay, run):
    served = run.served
    with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/api/stats") as r:
        stats = json.load(r)
    assert within(stats["active"]["7d"]["instances"], replay.truth), stats["active"]
    plugins = {row["key"]: row["instances"] for row in stats["plugins"]}
    assert within(plugins[fleet.COMMERCIAL], len(replay.commercial_organic)), plugins


def test_the_fakes_are_held_in_cohorts_with_their_plugin(replay, run):
    collector = run.collector
    cohorts = collector.store.cohorts()
    held = sum(c.instances for c in cohorts)
    assert held >= 0.95 * len(replay.fakes)
    biggest = cohorts[0]
    assert SOURCE_BURST in biggest.reasons
    assert max(biggest.plugins, key=biggest.plugins.get) == fleet.COMMERCIAL


def test_no_address_and_no_expired_key_in_the_store(replay, run):
    # The replay's days are over (the clock is past its end): every key seen during
    # the replay is of a finished day.
    assert run.keys and all(day < utc_day(run.clock.now) for day in run.keys)
    scrub(run.collector.store)
    blobs = run.store_bytes()
    assert len(blobs) > 100_000  # the store is really there
    for day, key in run.keys.items():
        assert key not in blobs and key.hex().encode() not in blobs, day
    # Every address of the replay lies in the documentation ranges, so any trace of
    # their text prefixes is a leak; packed IPv6 addresses are looked for at each
    # occurrence of the 2001:db8::/32 prefix bytes.
    for prefix in ("198.51.100.", "192.0.2.", "203.0.113.", "2001:db8:"):
        for needle in (prefix.encode(), prefix.encode("utf-16-le")):
            assert needle not in blobs, prefix
    packed = {
        ipaddress.ip_address(a).packed
        for a in fleet.addresses(replay.requests)
        if ":" in a
    }
    networks = {p[:6] for p in packed}
    at = blobs.find(b"\x20\x01\x0d\xb8")
    while at != -1:
        assert blobs[at : at + 16] not in packed
        assert blobs[at : at + 6] not in networks
        at = blobs.find(b"\x20\x01\x0d\xb8", at + 1)
