"""Concurrent writers on one PostgreSQL database: no deadlock, so no 503.

Every gunicorn worker has its own writer, and PostgreSQL's row locks order their
transactions. Two transactions that lock the same rows in opposite orders deadlock:
PostgreSQL kills one of them after ``deadlock_timeout`` (1 s), and if that is a
batch of reports, every report in it is answered 503 (if it is the admission's, its
decision is lost). Here a fleet reports from many networks through gunicorn's
workers at once, while what else writes instance rows happens beside it: new ids
seen by several workers together, cohorts held as their networks pass the budget,
instances forgotten ("Reset ID") while their reports are in flight.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from testkit import (
    TRUSTED_PROXY,
    Gunicorn,
    new_id,
    open_test_store,
    uuids,
    writer_reruns,
)

BUDGET = 4
NETWORKS = 12
WORKERS = 3
# As many requests at once as the workers have threads (3 × 16): each wave reaches
# every worker together.
WAVE = 48


class Fleet:
    """Clients behind a trusted proxy: each thread keeps one connection."""

    def __init__(self, url: str):
        self.url = url
        self.answers: list[tuple[str, int]] = []
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(WAVE)

    def _send(self, request: tuple[str, str, int]) -> None:
        method, iid, network = request
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = requests.Session()
        # 198.18.0.0/15 is for benchmarks; each /24 is one source.
        headers = {"X-Forwarded-For": f"198.18.{network}.7"}
        if method == "DELETE":
            r = http.delete(f"{self.url}/track/{iid}/", headers=headers, timeout=30)
        else:
            r = http.get(
                f"{self.url}/track/{iid}/ping/?octoprint_uptime=1",
                headers=headers,
                timeout=30,
            )
        self.answers.append((method, r.status_code))

    def wave(self, requests_: list[tuple[str, str, int]]) -> None:
        """Send one wave of requests at once, in random order; wait for all."""
        random.shuffle(requests_)
        list(self._pool.map(self._send, requests_))

    def close(self) -> None:
        self._pool.shutdown()


def pings(ids: list[str], network: int, n: int) -> list[tuple[str, str, int]]:
    return [("GET", ids[k % len(ids)], network) for k in range(n)]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_fleet_from_many_networks_reporting_through_all_workers_never_deadlocks(
    tmp_path, db
):
    public = {n: [new_id() for _ in range(BUDGET)] for n in range(NETWORKS)}
    env = {
        "TRACKING_COLLECTOR_TRUSTED_PROXIES": TRUSTED_PROXY,
        "TRACKING_COLLECTOR_NEW_IDS_PER_SOURCE": str(BUDGET),
        "TRACKING_COLLECTOR_WORKERS": str(WORKERS),
    }
    with Gunicorn(tmp_path, db, **env) as server:
        fleet = Fleet(server.url)
        try:
            for network, ids in public.items():
                # New ids, each reported through several workers at once.
                fleet.wave(pings(ids, network, WAVE))
            for network, ids in public.items():
                # One more new id: the network passes its budget and its cohort is
                # held while its instances report through the other workers.
                fleet.wave([("GET", new_id(), network), *pings(ids, network, WAVE - 1)])
            for network, ids in public.items():
                # Reset ID: the instance is forgotten while its reports arrive.
                fleet.wave([*[("DELETE", ids[0], network)] * 2,
                            *pings(ids[:1], network, WAVE - 2)])  # fmt: skip
        finally:
            fleet.close()
        log = server.log_path.read_text()
    refused = [a for a in fleet.answers if a[1] != 200]
    errors = [line for line in log.splitlines() if "error" in line.lower()]
    assert not refused, (f"{len(refused)} refused", errors[:3])
    assert not errors
    # Not even one the writer ran again (the lock order leaves none to lose).
    assert not writer_reruns(log)
    assert "Admission hook failed" not in log
    store = open_test_store(db)
    held = set(uuids(store, held=True))
    store.close()
    # Every network passed its budget: its new ids are held. (A reset id may come
    # back as a new id of a network past its budget, or its last report may come
    # before its reset: it is left out.)
    assert {i for ids in public.values() for i in ids[1:]} <= held
