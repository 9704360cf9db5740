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
from pathlib import Path

import fleet
import pytest
from collector_testkit import Clock
from werkzeug.serving import make_server

from tracking_collector import Config, create_app
from tracking_collector.admission import SOURCE_BURST
from tracking_collector.app import get_collector
from tracking_collector.cli import PrivateRequestHandler
from tracking_collector.sources import utc_day

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


def source_keys(store) -> dict[str, bytes]:
    """The keys in the store right now (the test keeps them to search for later)."""
    with store._read() as q:
        return {day: bytes(key) for day, key in q.rows("SELECT day, key FROM source_keys")}


def run_replay(replay: fleet.Fleet, db: str, **config):
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
        # Two hours after the end: the short-lived fakes are judged.
        clock.now = replay.end + 2 * 3600
        collector.housekeeping()
        collector.store.refresh(clock.now, force=True)
    finally:
        sender.close()
    return served, collector, clock, keys_seen


@pytest.fixture(scope="module")
def sqlite_run(replay, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    served, collector, clock, keys = run_replay(replay, str(tmp / "t.sqlite"))
    yield served, collector, clock, keys, tmp / "t.sqlite"
    served.close()


def within(value: int, truth: int, tolerance: float = 0.15) -> bool:
    return abs(value - truth) <= tolerance * truth


def test_public_seven_day_count_is_within_15_percent_of_the_truth(replay, sqlite_run):
    _, collector, _, _, _ = sqlite_run
    active = collector.store.window(7)["active"][""]
    assert within(active, replay.truth), (active, replay.truth)


def test_pushed_plugin_count_is_within_15_percent_of_the_truth(replay, sqlite_run):
    _, collector, _, _, _ = sqlite_run
    pushed = collector.store.window(7).get("plugin", {}).get(fleet.COMMERCIAL, 0)
    assert within(pushed, len(replay.commercial_organic)), pushed


def test_every_organic_instance_is_public_farm_included(replay, sqlite_run):
    _, collector, _, _, _ = sqlite_run
    held = {
        uuid: record.held
        for uuid in replay.organic
        if (record := collector.store.instance(uuid)) is None or record.held
    }
    assert held == {}
    assert collector.store.window(7)["active"][""] >= replay.truth


def test_public_stats_api_shows_the_true_counts(replay, sqlite_run):
    served, collector, _, _, _ = sqlite_run
    with urllib.request.urlopen(f"http://127.0.0.1:{served.port}/api/stats") as r:
        stats = json.load(r)
    assert within(stats["active"]["7d"]["instances"], replay.truth), stats["active"]
    plugins = {row["key"]: row["instances"] for row in stats["plugins"]}
    assert within(plugins[fleet.COMMERCIAL], len(replay.commercial_organic)), plugins


def test_the_fakes_are_held_in_cohorts_with_their_plugin(replay, sqlite_run):
    _, collector, _, _, _ = sqlite_run
    cohorts = collector.store.cohorts()
    held = sum(c.instances for c in cohorts)
    assert held >= 0.95 * len(replay.fakes)
    biggest = cohorts[0]
    assert SOURCE_BURST in biggest.reasons
    assert max(biggest.plugins, key=biggest.plugins.get) == fleet.COMMERCIAL


def test_no_address_and_no_expired_key_in_the_sqlite_files(replay, sqlite_run):
    _, collector, clock, keys, path = sqlite_run
    # The replay's days are over (the clock is past its end): every key seen during
    # the replay is of a finished day.
    assert keys and all(day < utc_day(clock.now) for day in keys)
    collector.store.checkpoint()
    blobs = b"".join(
        Path(f).read_bytes() for f in (str(path), str(path) + "-wal") if Path(f).exists()
    )
    for key in keys.values():
        assert key not in blobs and key.hex().encode() not in blobs
    for address in fleet.addresses(replay.requests):
        ip = ipaddress.ip_address(address)
        for needle in (address.encode(), address.encode("utf-16-le"), ip.packed):
            assert needle not in blobs, address
