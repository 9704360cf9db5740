"""Rows 7s, 7d, 7h: the collector's storage at fleet size, SQLite and PostgreSQL.

- 7s: ``/api/stats`` p50/p99 at 1k, 10k and 100k instances x 90 days. The fleet is
  SEEDED: the tables (instances, instance_days, daily rollups) are written directly
  with ``Store.bulk_insert`` (COPY on PostgreSQL), shaped as ingest writes them; the
  windows are then computed by the collector's own ``refresh`` (timed and shown).
  Requests go through the WSGI app in-process with the stats cache OFF, so every
  request is a full computation from the rollups (the cached answer is shown too).
- 7d: bytes on disk per instance-day, from a fleet REPORTING through
  ``Store.add_many`` (the writer's path) at the real rate: a ping every 15 minutes,
  a daily pong, three prints a day (started + done/failed), for 7 days; SQLite: the
  file after a checkpoint; PostgreSQL: the collector's tables with their indexes
  (``pg_total_relation_size``, dead row versions included, no vacuum). Row 7s
  shows the size of the seeded 100k x 90 d stores too.
- 7h: stats time against history length (7, 30, 90 days of 10k seeded instances).

PostgreSQL is a throwaway cluster from Debian's ``postgresql`` package, started by
the same helper the collector tests use (``harness/pg_cluster.py``), with
PostgreSQL's default settings (fsync and synchronous_commit on) on the local disk.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from . import common
from .common import Row

REPO = Path(__file__).resolve().parents[1]
FLEETS = (1_000, 10_000, 100_000)
HISTORY = 90
HISTORIES = (7, 30, 90)
HISTORY_FLEET = 10_000
REQUESTS = 40
DAY = 86400

VERSIONS = (
    ("1.11.8", 40), ("1.11.7", 15), ("1.10.3", 20), ("1.9.3", 10), ("1.8.7", 8),
    ("2.0.0rc1", 3), ("1.7.3", 4),
)  # fmt: skip
PYTHONS = (("3.11.2", 40), ("3.9.2", 30), ("3.12.3", 15), ("3.7.3", 10), ("2.7.18", 5))
OSES = (("linux", 90), ("windows", 6), ("macos", 4))
PI_MODELS = (
    ("Raspberry Pi 4 Model B Rev 1.4", 40), ("Raspberry Pi 3 Model B Plus Rev 1.3", 30),
    ("Raspberry Pi 5 Model B Rev 1.0", 10), ("", 20),
)  # fmt: skip
FIRMWARES = (("Marlin", 50), ("Klipper", 25), ("Prusa-Firmware", 15), ("RepRapFirmware", 5),
             ("Smoothieware", 5))  # fmt: skip
BROWSERS = (("Chrome", 60), ("Firefox", 25), ("Safari", 10), ("Edge", 5))
COUNTRIES = tuple((c, 100 - i * 3) for i, c in enumerate(
    "US DE GB FR NL IT ES CA AU PL SE CH AT BE CZ DK FI NO JP BR".split()))  # fmt: skip
PLUGINS = [f"plugin{n:03d}" for n in range(300)]
PLUGIN_WEIGHTS = [1.0 / (n + 1) for n in range(300)]
# A mostly always-on fleet: all 24 hours, or a working day, or an evening.
HOUR_MASKS = (0xFFFFFF, 0xFFFFFF, 0xFFFFFF, 0x0FFF00, 0xFC0000)


def _pick(rng: random.Random, table) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


def _pg_cluster():
    from harness.pg_cluster import PgCluster

    return PgCluster(durable=True)  # PostgreSQL's defaults: fsync on


@contextlib.contextmanager
def _backends() -> Iterator[List[Tuple[str, object]]]:
    """[("SQLite", new_db), ("PostgreSQL", new_db)]; new_db() -> a fresh --db value."""
    folder = common.scratch("collector-store")
    counter = iter(range(10_000))
    cluster = None
    try:
        cluster = _pg_cluster()
    except Exception as exc:  # noqa: BLE001 - shown in the rows instead
        pg_error: Optional[Exception] = exc
    else:
        pg_error = None

    def sqlite_db() -> str:
        return str(folder / f"bench-{next(counter)}.sqlite")

    def pg_db() -> str:
        if cluster is None:
            raise RuntimeError(f"PostgreSQL unavailable: {pg_error}")
        return cluster.new_database()

    try:
        yield [("SQLite", sqlite_db), ("PostgreSQL", pg_db)]
    finally:
        if cluster is not None:
            cluster.stop()


def _fleet_rows(rng: random.Random, instances: int, now: float):
    from tracking_collector.store.model import ENV_COLUMNS

    rows = []
    for iid in range(1, instances + 1):
        picks = rng.choices(PLUGINS, PLUGIN_WEIGHTS, k=rng.randint(2, 9))
        # Stored as ingest stores it (normalize_plugins): sorted "id:version".
        plugins = ",".join(f"{p}:1.{rng.randint(0, 4)}" for p in sorted(set(picks)))
        env = {
            "version": _pick(rng, VERSIONS),
            "python": _pick(rng, PYTHONS),
            "os": _pick(rng, OSES),
            "bits": rng.choice(("32", "64")),
            "cores": rng.choice(("1", "2", "4", "8")),
            "pi_model": _pick(rng, PI_MODELS) or None,
            "octopi": rng.choice(("1.0.0", "0.18.0", None)),
            "firmware": _pick(rng, FIRMWARES),
            "plugins": plugins,
            "browser": _pick(rng, BROWSERS),
            "country": _pick(rng, COUNTRIES),
            "city": None,
        }
        last = now - rng.random() * 3 * DAY
        rows.append(
            (iid, str(uuid.UUID(int=rng.getrandbits(128), version=4)), now - 90 * DAY,
             last, *(env.get(c) for c in ENV_COLUMNS), last - 3600)
        )  # fmt: skip
    return rows


def seed(store, instances: int, days: int, now: float, seed_value: int = 7) -> float:
    """Write a fleet of ``instances`` x ``days`` directly into the tables; returns
    the seconds the collector's own window refresh then took."""
    from tracking_collector.store.model import ENV_COLUMNS, day_rollup
    from tracking_collector.timefmt import day_of

    rng = random.Random(seed_value)
    fleet = _fleet_rows(rng, instances, now)
    store.bulk_insert(
        "instances",
        ("id", "uuid", "first_seen", "last_seen", *ENV_COLUMNS, "last_print"),
        fleet,
    )
    today = day_of(now)
    masks = [HOUR_MASKS[i % len(HOUR_MASKS)] for i in range(instances)]

    # Generated by the engine itself (INSERT ... SELECT over a day list): millions
    # of rows without a round trip each. ~90 % of the fleet is active on a day.
    masks_sql = " ".join(f"WHEN {n} THEN {mask}" for n, mask in enumerate(HOUR_MASKS))
    with store.engine.write() as q:  # a seeding tool writes tables directly
        q.run("CREATE TEMP TABLE seed_days (day INTEGER NOT NULL)")
        q.many(
            "INSERT INTO seed_days (day) VALUES (?)",
            [(d,) for d in range(today - days + 1, today + 1)],
        )
        q.run(
            "INSERT INTO instance_days (day, instance_id, hours, version, started,"
            f" done, failed, cancelled) SELECT d.day, i.id,"
            f" CASE (i.id - 1) % {len(HOUR_MASKS)} {masks_sql} END,"
            " i.version, 3, 2, 1, 0 FROM seed_days d CROSS JOIN instances i"
            " WHERE ((i.id - 1) * 7 + d.day) % 10 <> 0 ORDER BY d.day, i.id"
        )
        q.run("DROP TABLE seed_days")
    # One day's rollup computed by the collector's own fold over the seeded rows,
    # then written for every day (the seeded days look alike).
    n_env = len(ENV_COLUMNS)
    active = [(i, r) for i, r in enumerate(fleet) if (i * 7 + today) % 10]
    hour_sums = [sum(1 for i, _ in active if masks[i] >> h & 1) for h in range(24)]
    prints = Counter(r[4] for _, r in active)
    counter: Counter = day_rollup(
        (r[4 : 4 + n_env] for _, r in active),
        hour_sums,
        [(v, n, 3 * n, 2 * n, n, 0) for v, n in prints.items()],
        [],
    )
    store.bulk_insert(
        "rollups",
        ("day", "metric", "key", "value"),
        [
            (day, m, k, v)
            for day in range(today - days + 1, today + 1)
            for (m, k), v in sorted(counter.items())
        ],
    )
    t0 = time.perf_counter()
    store.refresh(now, force=True)
    return time.perf_counter() - t0


def _stats_times(db: str, store, now: float) -> Tuple[List[float], float]:
    """Uncached /api/stats latencies (s) and one cached answer's latency."""
    from tracking_collector import Config, create_app
    from tracking_collector.runtime import get_collector

    app = create_app(
        Config(db=db, stats_cache=0, refresh_interval=3600.0),
        store=store,
        clock=lambda: now,
        background_purge=False,
        background_refresh=True,  # its first refresh finds the windows fresh
    )
    client = app.test_client()
    try:
        for _ in range(3):
            assert client.get("/api/stats").status_code == 200
        times = []
        for _ in range(REQUESTS):
            t0 = time.perf_counter()
            response = client.get("/api/stats")
            times.append(time.perf_counter() - t0)
            assert response.status_code == 200
        collector = get_collector(app)
        collector.config.stats_cache = 60.0
        client.get("/api/stats")
        t0 = time.perf_counter()
        client.get("/api/stats")
        cached = time.perf_counter() - t0
    finally:
        get_collector(app).close()
    return times, cached


def _size(store, db: str) -> int:
    from tracking_collector.store import SQLiteStore

    if isinstance(store, SQLiteStore):
        store.engine.scrub()  # the WAL folded into the file
        return Path(db).stat().st_size
    tables = ("instances", "instance_days", "events", "rollups", "window_rollups",
              "ingest_counts", "dirty_days", "meta", "schema_version")  # fmt: skip
    with store.engine.read() as q:  # a measurement through the store's engine
        return int(
            sum(q.rows("SELECT pg_total_relation_size(?)", (t,))[0][0] for t in tables)
        )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def stats_rows() -> List[Row]:
    from tracking_collector.store import open_store

    goal = "p50 ≤ 100 ms at 100k × 90 d (uncached)"
    rows = []
    now = time.time()
    with _backends() as backends:
        for name, new_db in backends:
            for fleet in FLEETS:
                metric = (
                    f"Collector `/api/stats`, {name}, {fleet:,} instances × {HISTORY} d"
                    " (seeded tables; uncached computation)"
                )
                try:
                    db = new_db()
                    store = open_store(db)
                    t0 = time.perf_counter()
                    refresh = seed(store, fleet, HISTORY, now)
                    seeding = time.perf_counter() - t0
                    size = _size(store, db) / (fleet * HISTORY * 0.9)
                    times, cached = _stats_times(db, store, now)
                except Exception as exc:  # noqa: BLE001 - one case must not hide the rest
                    rows.extend(common.failed("7s", metric, exc, goal))
                    continue
                p50 = common.median(times)
                text = (
                    f"p50 {_ms(p50)}, p99 {_ms(common.percentile(times, 99))}"
                    f" (cached {_ms(cached)}); window refresh {refresh:.2f} s;"
                    f" {size:,.0f} B/instance-day; seeding {seeding:.0f} s"
                )
                met = p50 <= 0.1 if fleet == FLEETS[-1] else None
                rows.append(Row("7s", metric, text, "n/a", "n/a", goal, met))
    return rows


def history_rows() -> List[Row]:
    from tracking_collector.store import open_store

    goal = "≤ 1.5× from 7 to 90 days"
    rows = []
    now = time.time()
    with _backends() as backends:
        for name, new_db in backends:
            metric = (
                f"Collector `/api/stats` vs history, {name}, {HISTORY_FLEET:,} instances"
                " (seeded; uncached p50)"
            )
            try:
                p50s = {}
                for days in HISTORIES:
                    db = new_db()
                    store = open_store(db)
                    seed(store, HISTORY_FLEET, days, now)
                    times, _ = _stats_times(db, store, now)
                    p50s[days] = common.median(times)
            except Exception as exc:  # noqa: BLE001
                rows.extend(common.failed("7h", metric, exc, goal))
                continue
            growth = p50s[HISTORIES[-1]] / p50s[HISTORIES[0]]
            text = ", ".join(f"{d} d {_ms(t)}" for d, t in p50s.items())
            # The answer holds up to 30 days of per-day print figures, so it grows
            # until 30 days of history exist; from there on it must stay flat.
            text += (
                f"; 90/7 = {growth:.2f}×, 90/30 = {p50s[90] / p50s[30]:.2f}×"
                " (the stats answer's 30-day print table fills until day 30)"
            )
            rows.append(Row("7h", metric, text, "n/a", "n/a", goal, growth <= 1.5))
    return rows


def _report_stream(instances: int, days: int, start: float):
    """Reports of a fleet at the real rate, in time order, as ingest sees them."""
    from tracking_collector.store import Report

    rng = random.Random(11)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(instances)]
    pong = {
        "version": "1.11.8", "python": "3.11.2", "os": "linux", "bits": "64",
        "cores": "4", "pi_model": "Raspberry Pi 4 Model B Rev 1.4",
        "octopi_version": "1.0.0", "plugins": "octolapse:0.4.2,bedlevelvisualizer:1.1.1,"
        "printtimegenius:2.3.1,themeify:1.2.2",
    }  # fmt: skip
    ping = {"octoprint_uptime": "5400", "printer_state": "OPERATIONAL"}
    print_fields = {"origin": "local", "file": "a3b1c0ffee5c2b1d4f2e8d9a7c6b5a4f3e2d1c0b",
                    "printer_connector": "serial", "throttled_now": "False"}  # fmt: skip
    for slot in range(days * 96):
        ts = start + slot * 900
        batch = [Report(i, "ping", ts, "1.11.8", "DE", "unknown", ping) for i in ids]
        if slot % 96 == 1:
            batch += [Report(i, "pong", ts, "1.11.8", "DE", "unknown", pong) for i in ids]
        if slot % 96 in (40, 56, 72):  # three prints a day
            batch += [Report(i, "print_started", ts, "1.11.8", "DE", "unknown",
                             print_fields) for i in ids]  # fmt: skip
            outcome = "print_done" if slot % 96 != 72 else "print_failed"
            batch += [Report(i, outcome, ts + 600, "1.11.8", "DE", "unknown",
                             {**print_fields, "elapsed": "3600"}) for i in ids]  # fmt: skip
        yield batch


def size_rows() -> List[Row]:
    from tracking_collector.store import open_store

    instances, days = 200, 7
    goal = "≤ 2 KB per instance-day"
    rows = []
    start = (int(time.time() // DAY) - days) * DAY
    with _backends() as backends:
        for name, new_db in backends:
            metric = (
                f"Collector bytes per instance-day, {name} ({instances} instances ×"
                f" {days} d reporting at the real rate through the writer's path)"
            )
            try:
                db = new_db()
                store = open_store(db)
                empty = _size(store, db)
                reports = 0
                t0 = time.perf_counter()
                for batch in _report_stream(instances, days, start):
                    for n in range(0, len(batch), 500):
                        store.add_many(batch[n : n + 500])
                    reports += len(batch)
                elapsed = time.perf_counter() - t0
                store.refresh(start + days * DAY, force=True)
                stored = store.reports_stored()
                per = (_size(store, db) - empty) / (instances * days)
                store.close()
            except Exception as exc:  # noqa: BLE001
                rows.extend(common.failed("7d", metric, exc, goal))
                continue
            text = (
                f"{per:,.0f} B/instance-day ({reports:,} reports, {stored:,} stored,"
                f" {reports / elapsed:,.0f} reports/s into the store, no vacuum);"
                " the seeded 100k × 90 d stores are in row 7s"
            )
            rows.append(
                Row("7d", metric, text, "n/a", "n/a", goal,
                    per <= 2048 and stored == reports)
            )  # fmt: skip
    return rows
