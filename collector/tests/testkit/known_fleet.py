"""A simulated fleet with known figures, sent to a collector over real HTTP.

Every report is dated (``age``) into the middle of the previous UTC hour, so all
instances are active in one hour whenever the test runs: the hourly histogram's
maximum must then equal the number of active instances.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from .servers import Server
from .stores import open_test_store

HOUR = 3600
SIZE = 40
VERSIONS = {"1.11.8": 24, "1.11.7": 12, "1.9.3": 2, "1.10.3": 2}
OCTOLAPSE = range(0, 15)  # octolapse 0.4.5
THEMEIFY = range(10, 22)  # themeify 1.2.2
INSTALLED_OCTOLAPSE = OCTOLAPSE  # every octolapse user sent install_plugin for it
PRINTED = range(0, 12)  # print_started; done for the first 10, failed for 2
PRINT_SECONDS = 3600
PI_BUILD = "0.18.0-1.7.2-20220318105810"
OCTOPIUPTODATE = range(0, 20)  # pong octopiuptodate_build = PI_BUILD
# webui_load from the first 30: chrome 120 on 0-19, firefox 121 on 20-29;
# os_name windows on 0-14, linux on 15-29; the last 10 never load the web UI.
CLIENTS = range(0, 30)
# Pings at random hours of the past week: history for the charts, never more than
# the whole fleet in one hour, and the same version, so no figure above changes.
PAST_PINGS = 24
DAY = 86400


@dataclass
class Instance:
    n: int
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def version(self) -> str:
        bound = 0
        for version, count in VERSIONS.items():
            bound += count
            if self.n < bound:
                return version
        raise AssertionError(self.n)

    @property
    def plugins(self) -> str:
        entries = []
        if self.n in OCTOLAPSE:
            entries.append("octolapse:0.4.5")
        if self.n in THEMEIFY:
            entries.append("themeify:1.2.2")
        return ",".join(entries)


def age_into_previous_hour(now: float | None = None) -> int:
    """Seconds back from now to the middle of the previous UTC hour."""
    now = time.time() if now is None else now
    target = (now // HOUR - 1) * HOUR + HOUR / 2
    return int(now - target)


def _send(url: str, instance: Instance) -> None:
    iid, version = instance.id, instance.version
    with requests.Session() as http:
        http.headers["User-Agent"] = f"OctoPrint/{version} UsageTracking/0.1.0"

        def get(event: str, **params) -> None:
            params.setdefault("age", age_into_previous_hour())
            r = http.get(f"{url}/track/{iid}/{event}/", params=params, timeout=20)
            assert r.status_code == 200, r.text

        get("ping", version=version)
        rng = random.Random(instance.n)
        for _ in range(PAST_PINGS):
            get("ping", version=version, age=rng.randint(2 * HOUR, 7 * DAY - HOUR))
        body = {
            "version": version,
            "python": "3.11.2" if instance.n < 30 else "3.9.2",
            "os": "linux",
            "bits": 64,
            "cores": 4,
            "plugins": instance.plugins,
            "age": age_into_previous_hour(),
        }
        if instance.n in OCTOPIUPTODATE:
            body["octopiuptodate_build"] = PI_BUILD
        r = http.post(
            f"{url}/track/{iid}/pong/",
            data=urlencode(body).replace("+", "%20"),
            timeout=20,
        )
        assert r.status_code == 200, r.text
        if instance.n in CLIENTS:
            chrome = instance.n < 20
            get(
                "webui_load",
                browser_name="chrome" if chrome else "firefox",
                browser_version="120.0.6099.71" if chrome else "121.0",
                os_name="windows" if instance.n < 15 else "linux",
            )
        if instance.n in INSTALLED_OCTOLAPSE:
            get("install_plugin", plugin="octolapse", plugin_version="0.4.5")
        if instance.n in PRINTED:
            get("print_started", origin="local")
            outcome = "print_done" if instance.n < 10 else "print_failed"
            get(outcome, origin="local", elapsed=PRINT_SECONDS)


def send_fleet(url: str, size: int = SIZE) -> list[Instance]:
    fleet = [Instance(n) for n in range(size)]
    # Parallel senders, as a real fleet: exercises the writer's group commits.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: _send(url, i), fleet))
    return fleet


def reports_sent(fleet: list[Instance]) -> int:
    """How many reports ``send_fleet`` sent (each answered 200)."""
    return sum(
        2
        + PAST_PINGS
        + (i.n in INSTALLED_OCTOLAPSE)
        + (i.n in CLIENTS)
        + 2 * (i.n in PRINTED)
        for i in fleet
    )


@contextlib.contextmanager
def fleet_collector(tmp: Path, db: str, min_group: int = 10) -> Iterator[tuple]:
    """A collector server that received the whole fleet, with rollups up to date."""
    # No answer cache: a test reads what the rollups hold right then.
    args = ["--min-group", str(min_group), "--stats-cache", "0"]
    server = Server(args, db, tmp / "server.log")
    try:
        fleet = send_fleet(server.url)
        # Every report is acknowledged, so committed; a forced refresh waits for
        # any refresh the server is running and then folds in all of them. Then
        # the rollups hold the whole fleet, whatever the refresher does next.
        store = open_test_store(db)
        try:
            store.refresh(force=True)
        finally:
            store.close()
        doc = requests.get(f"{server.url}/export/instance_stats_7d.json", timeout=10)
        assert doc.json()["count"] == SIZE
        yield server, fleet
    finally:
        server.stop()


@pytest.fixture(scope="module", name="fleet_server", params=["sqlite", "postgresql"])
def fleet_server_fixture(request, tmp_path_factory):
    """The fleet's collector, on SQLite and on a real PostgreSQL."""
    tmp = tmp_path_factory.mktemp("publish")
    if request.param == "postgresql":
        db = request.getfixturevalue("pg_cluster").new_database()
    else:
        db = str(tmp / "publish.sqlite")
    with fleet_collector(tmp, db) as result:
        yield result
