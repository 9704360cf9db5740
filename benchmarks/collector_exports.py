"""Row 7e: what a public export costs at fleet size (100k instances x 90 days).

The fleet is seeded with the storage benchmark's tool (``collector_store.seed``:
instances, instance-days and daily rollups written directly, windows computed by
the collector's own refresh), on SQLite and on a throwaway PostgreSQL. Requests go
through the WSGI app in-process with the cache OFF, so each one reads the rollups
and builds the document: ``plugin_stats_30d.json`` (the largest export, read by
plugins.octoprint.org), ``instance_stats_7d.json`` (168 hourly buckets) and the
90-day version history. ``BENCH_EXPORT_INSTANCES`` shrinks the fleet for a quick
check.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import List

from . import common
from .collector_store import _backends, seed
from .common import Row

INSTANCES = int(os.environ.get("BENCH_EXPORT_INSTANCES", common.sized(100_000, 1_000)))
DAYS = 90
REQUESTS = common.sized(20, 3)
PATHS = (
    "/export/plugin_stats_30d.json",
    "/export/instance_stats_7d.json",
    "/api/history/versions",
)
GOAL_SECONDS = 0.5


def _times(db: str, store, now: float) -> dict[str, List[float]]:
    from tracking_collector import Config, create_app
    from tracking_collector.runtime import get_collector

    app = create_app(
        Config(db=db, stats_cache=0, refresh_interval=3600.0),
        store=store,
        clock=lambda: now,
        background_purge=False,
        background_refresh=True,  # the seed already refreshed the windows
    )
    client = app.test_client()
    try:
        result = {}
        for path in PATHS:
            assert client.get(path).status_code == 200  # warm-up
            times = []
            for _ in range(REQUESTS):
                t0 = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200
            result[path] = times
        return result
    finally:
        get_collector(app).close()


def _ms(times: List[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.0f} / {p99 * 1000:.0f} ms"


def run() -> List[Row]:
    from tracking_collector.store import open_store

    now = time.time()
    rows: List[Row] = []
    with _backends() as backends:
        for name, new_db in backends:
            label = f"{INSTANCES:,} instances × {DAYS} d, {name}"
            goal = f"p50 < {GOAL_SECONDS * 1000:.0f} ms each (reads rollups only)"
            try:
                db = new_db()
                store = open_store(db)
                seed(store, INSTANCES, DAYS, now)
                times = _times(db, store, now)
                store.close()
            except Exception as exc:  # noqa: BLE001 - one backend must not hide the other
                rows.extend(common.failed("7e", f"Export cost ({label})", exc, goal))
                continue
            worst = max(statistics.median(t) for t in times.values())
            rows.append(
                Row(
                    "7e",
                    f"Export cost, p50 / p99 per uncached request ({label})",
                    "; ".join(
                        f"{p.rsplit('/', 1)[-1]} {_ms(t)}" for p, t in times.items()
                    ),
                    goal=goal,
                    met=worst < GOAL_SECONDS,
                )
            )
    return rows
