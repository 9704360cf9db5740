"""Rows 7s, 7d, 7h: the collector's storage at fleet size, SQLite and PostgreSQL.

- 7s: ``/api/stats`` p50/p99 at 1k, 10k and 100k instances x 90 days. The fleet is
  SEEDED (``seed``): the tables ingest writes (instances with every environment
  column, instance_days with print seconds, events with plugin versions, ingest
  counts) are written directly through the store's engine (``Engine.bulk_insert``,
  COPY on PostgreSQL, and INSERT ... SELECT), shaped as ingest writes them; the
  rollups are the collector's own ``refresh`` (timed and shown). Requests go through
  the WSGI app in-process with the stats cache OFF, so every request is a full
  computation from the rollups (the cached answer is shown too).
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
import itertools
import random
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from . import common
from .common import Row

FLEETS = common.sized((1_000, 10_000, 100_000), (300, 1_000))
HISTORY = 90
HISTORIES = (7, 30, 90)
HISTORY_FLEET = common.sized(10_000, 300)
REQUESTS = common.sized(40, 5)
# Row 7d: a fleet reporting at the real rate through the writer's path.
REPORTING = common.sized(200, 20)
REPORTING_DAYS = common.sized(7, 2)
DAY = 86400


def _weighted(pairs) -> Tuple[list, list]:
    """(value, weight) pairs as rng.choices takes them: values, cumulative weights."""
    return [v for v, _ in pairs], list(itertools.accumulate(w for _, w in pairs))


def _pick(rng: random.Random, table: Tuple[list, list]) -> Any:
    values, cumulative = table
    return rng.choices(values, cum_weights=cumulative)[0]


# What the fleet reports (pong, printer_connected, webui_load) as the store keeps it:
# a value, or None where an instance has none, for every environment column.
# OctoPrint and Python come in pairs that exist (an impossible pair would be held).
ENVIRONMENTS = _weighted([((v, p), w) for v, p, w in (
    ("1.11.8", "3.11.2", 25), ("1.11.8", "3.9.2", 15), ("1.11.7", "3.11.2", 10),
    ("1.11.7", "3.13.1", 5), ("1.10.3", "3.9.2", 12), ("1.10.3", "3.7.3", 8),
    ("1.9.3", "3.11.2", 6), ("1.9.3", "3.7.3", 4), ("1.8.7", "3.7.3", 8),
    ("2.0.0rc1", "3.12.3", 3), ("1.7.3", "2.7.18", 4),
)])  # fmt: skip
OSES = _weighted((("linux", 90), ("windows", 6), ("macos", 4)))
PI_MODELS = _weighted((
    ("Raspberry Pi 4 Model B Rev 1.4", 40), ("Raspberry Pi 3 Model B Plus Rev 1.3", 30),
    ("Raspberry Pi 5 Model B Rev 1.0", 10), ("", 20),
))  # fmt: skip
OCTOPI = _weighted((("1.0.0", 55), ("0.18.0", 35), ("0.17.0", 10)))  # on a Pi only
OCTOPIUPTODATE = _weighted((("2024.02.12", 50), ("2024.06.25", 30), ("2023.10.18", 20)))
FIRMWARES = _weighted((("Marlin 2.1.2", 40), ("Marlin 2.0.9.3", 10), ("Klipper", 25),
                       ("Prusa-Firmware 3.13.3", 15), ("RepRapFirmware", 5),
                       ("Smoothieware", 5)))  # fmt: skip
# A browser with its full versions (stored as "name/major").
BROWSERS = _weighted((
    (("Chrome", ("131.0.0.0", "130.0.6723.92", "120.0.6099.71")), 60),
    (("Firefox", ("133.0", "128.5.1")), 25), (("Safari", ("18.1", "17.6")), 10),
    (("Edge", ("131.0.2903.70",)), 5),
))  # fmt: skip
CLIENT_OSES = _weighted((("Windows", 55), ("Mac OS", 20), ("Linux", 10),
                         ("Android", 10), ("iOS", 5)))  # fmt: skip
COUNTRIES = _weighted([(c, 100 - i * 3) for i, c in enumerate(
    "US DE GB FR NL IT ES CA AU PL SE CH AT BE CZ DK FI NO JP BR".split())])  # fmt: skip
CITIES = {"US": ("New York", "Chicago", "Seattle"), "DE": ("Berlin", "Munich"),
          "GB": ("London", "Manchester"), "FR": ("Paris",)}  # fmt: skip
# Third-party plugins, a few popular and a long tail.
PLUGINS = _weighted([(f"plugin{n:03d}", 1.0 / (n + 1)) for n in range(300)])
# A mostly always-on fleet: all 24 hours, or a working day, or an evening.
HOUR_MASKS = (0xFFFFFF, 0xFFFFFF, 0xFFFFFF, 0x0FFF00, 0xFC0000)
# Achievements (OctoPrint 1.10+ reports them in its pong) and the share of the
# instances that unlocked each; the list is stored as ingest keeps it.
ACHIEVEMENTS = (
    ("the_wizard", 0.9), ("one_small_step_for_man", 0.8), ("adventurer", 0.45),
    ("all_beginnings_are_hard", 0.5), ("the_manufacturer_i", 0.4), ("tgif", 0.35),
    ("half_marathon", 0.2), ("marathon", 0.08), ("night_owl", 0.3),
)  # fmt: skip
# Prints of every active instance-day (started, done, failed, cancelled); the
# finished ones' seconds vary per instance and day (see _instance_days_sql).
PRINTS = (3, 2, 1, 0)
# Events per active instance-day: what a real store's events table holds besides
# pings, pongs, web UI loads and prints (which are no rows of their own).
EVENT_RATES = (
    ("startup", 0.03), ("printer_connected", 0.06), ("update_successful", 0.01),
    ("install_plugin", 0.01), ("uninstall_plugin", 0.003),
)  # fmt: skip


def _active(iid: int, day: int) -> bool:
    """Whether instance ``iid`` reported on ``day``: ~90 % of the fleet each day
    (the same rule as the SQL of _instance_days_sql)."""
    return ((iid - 1) * 7 + day) % 10 != 0


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


def _environment(rng: random.Random) -> Dict[str, Optional[str]]:
    """One instance's latest environment, keyed by the store's column names."""
    from tracking_collector import plugins
    from tracking_collector.store.model import achievement_keys, browser_version

    version, python = _pick(rng, ENVIRONMENTS)
    system = _pick(rng, OSES)
    pi_model = (_pick(rng, PI_MODELS) if system == "linux" else "") or None
    octopi = _pick(rng, OCTOPI) if pi_model else None
    # OctoPi-UpToDate images are OctoPi 1.0 builds; not every 1.0 is one.
    build = None
    if octopi == "1.0.0" and rng.random() < 0.6:
        build = _pick(rng, OCTOPIUPTODATE)
    picks = rng.choices(PLUGINS[0], cum_weights=PLUGINS[1], k=rng.randint(2, 9))
    listed = ",".join(f"{p}:1.{rng.randint(0, 4)}" for p in picks)
    browser = major = client_os = None
    if rng.random() < 0.85:  # most had their web UI opened within the history
        browser, versions = _pick(rng, BROWSERS)
        major = browser_version(browser, rng.choice(versions))
        client_os = _pick(rng, CLIENT_OSES)
    country = _pick(rng, COUNTRIES)
    achievements = None
    if version.startswith(("1.10.", "1.11.", "2.")) and rng.random() < 0.7:
        achievements = achievement_keys(
            ",".join(a for a, share in ACHIEVEMENTS if rng.random() < share)
        )
    return {
        "version": version,
        "python": python,
        "os": system,
        "bits": rng.choice(("32", "64")),
        "cores": rng.choice(("1", "2", "4", "8")),
        "pi_model": pi_model,
        "octopi": octopi,
        "firmware": _pick(rng, FIRMWARES),
        "octopiuptodate_build": build,
        # As ingest stores a pong's list (plugins.normalize): sorted "id:version".
        "plugins": plugins.normalize(listed),
        "achievements": achievements,
        "browser": browser,
        "browser_version": major,
        "client_os": client_os,
        "country": country,
        "city": rng.choice(CITIES[country]) if country in CITIES else None,
    }


def _fleet_rows(rng: random.Random, instances: int, now: float) -> List[tuple]:
    """Rows of ``instances``: id, uuid, first_seen, last_seen, ENV_COLUMNS, last_print."""
    from tracking_collector.store.model import ENV_COLUMNS

    rows = []
    for iid in range(1, instances + 1):
        env = _environment(rng)
        if iid == 1 and set(env) != set(ENV_COLUMNS):
            raise RuntimeError(
                "the seed's environment does not match the store's columns:"
                f" missing {sorted(set(ENV_COLUMNS) - set(env))},"
                f" unknown {sorted(set(env) - set(ENV_COLUMNS))}"
            )
        last = now - rng.random() * 3 * DAY
        rows.append(
            (iid, str(uuid.UUID(int=rng.getrandbits(128), version=4)), now - 90 * DAY,
             last, *(env[c] for c in ENV_COLUMNS), last - 3600)
        )  # fmt: skip
    return rows


def _event_fields(event: tuple, env: Dict[str, Optional[str]]) -> Dict[str, str]:
    """Fields of an ``event`` (kind, then the instance's id or a plugin and its
    version) of an instance with ``env``, as the plugin sends them."""
    from tracking_collector.store.model import ENV_FIELDS

    kind = event[0]
    if kind == "startup":  # the environment, without the printer's firmware
        fields = {f: env[c] for c, f in ENV_FIELDS if env[c] and c != "firmware"}
        return {"version": env["version"], **fields}
    if kind == "printer_connected":
        return {"firmware_name": env["firmware"], "printer_port": "/dev/ttyACM0",
                "printer_baudrate": "115200", "printer_connector": "serial"}  # fmt: skip
    if kind == "update_successful":
        return {"target": "octoprint", "from_version": "1.11.7", "to_version": "1.11.8"}
    return {"plugin": event[1], "plugin_version": event[2]}  # (un)install_plugin


def _event_rows(rng: random.Random, fleet: List[tuple], days: int, now: float):
    """Event rows (instance_id, day, ts, event, key, version, fields) on the days
    an instance was active, at an hour it was active, none after ``now``."""
    import json

    from tracking_collector.store.model import ENV_COLUMNS, Report, event_key
    from tracking_collector.timefmt import day_of

    today = day_of(now)
    hours = [[h for h in range(24) if mask >> h & 1] for mask in HOUR_MASKS]
    env_at = slice(4, 4 + len(ENV_COLUMNS))  # in a row of _fleet_rows
    at_version = 4 + ENV_COLUMNS.index("version")
    # (kind, instance id or plugin and version) -> (key, fields JSON): an event of
    # one kind repeats its fields, so each is built and serialised once.
    shaped: Dict[tuple, Tuple[Optional[str], str]] = {}
    rows = []
    for kind, rate in EVENT_RATES:
        for _ in range(round(rate * len(fleet) * days)):
            iid = rng.randrange(len(fleet)) + 1
            day = rng.randrange(today - days + 1, today + 1)
            hour = rng.choice(hours[(iid - 1) % len(HOUR_MASKS)])
            ts = day * DAY + hour * 3600 + rng.random() * 3600
            if not _active(iid, day) or ts > now:
                continue
            row = fleet[iid - 1]
            version = row[at_version]
            if kind.endswith("_plugin"):
                event = (kind, _pick(rng, PLUGINS), f"1.{rng.randint(0, 4)}")
            else:
                event = (kind, iid)
            if event not in shaped:
                fields = _event_fields(event, dict(zip(ENV_COLUMNS, row[env_at])))
                # Keyed and serialised as ingest does (store.model.fold).
                key = event_key(Report(row[1], kind, ts, version, fields=fields))
                text = json.dumps(fields, ensure_ascii=False, sort_keys=True)
                shaped[event] = key, text
            key, text = shaped[event]
            rows.append((iid, day, ts, kind, key, version, text))
    rows.sort(key=lambda r: r[2])  # in the order they arrived
    return rows


def _instance_days_sql() -> str:
    """The active instance-days, generated by the engine itself (INSERT ... SELECT
    over the seeded days): millions of rows without a round trip each. Print
    seconds: the finished prints of a day took 1.5 to 3.5 hours together."""
    from tracking_collector.store.model import PRINT_COLUMNS

    masks = " ".join(f"WHEN {n} THEN {mask}" for n, mask in enumerate(HOUR_MASKS))
    return (
        f"INSERT INTO instance_days (day, instance_id, hours, version,"
        f" {', '.join(PRINT_COLUMNS)}, print_seconds)"
        f" SELECT d.day, i.id, CASE (i.id - 1) % {len(HOUR_MASKS)} {masks} END,"
        f" i.version, {', '.join(str(n) for n in PRINTS)},"
        " 5400 + (i.id * 37 + d.day * 101) % 7200"
        " FROM seed_days d CROSS JOIN instances i"
        " WHERE ((i.id - 1) * 7 + d.day) % 10 <> 0 ORDER BY d.day, i.id"
    )


def _print_hours_sql() -> str:
    """The finished prints' seconds by the hour they finished in (schema 3), one row
    per printing instance-day: all of the day's seconds in the last hour its instance
    was active, so the hours add up to the day's ``print_seconds``."""
    last = " ".join(
        f"WHEN {n} THEN {mask.bit_length() - 1}" for n, mask in enumerate(HOUR_MASKS)
    )
    return (
        "INSERT INTO print_hours (day, instance_id, hour, seconds)"
        f" SELECT day, instance_id, CASE (instance_id - 1) % {len(HOUR_MASKS)} {last}"
        " END, print_seconds FROM instance_days WHERE print_seconds > 0"
        " ORDER BY day, instance_id"
    )


def _ingest_counts_sql() -> List[str]:
    """Reports acknowledged per day, as ingest counts them: a ping every 15 minutes
    of an active hour, a pong a day, the prints, the events."""
    from tracking_collector.store.model import PRINT_COLUMNS

    pings = " + ".join(f"((hours >> {h}) & 1)" for h in range(24))
    selects = [
        f"SELECT day, 'ping', 0, 4 * SUM({pings}) FROM instance_days GROUP BY day",
        "SELECT day, 'pong', 0, COUNT(*) FROM instance_days GROUP BY day",
        *(
            f"SELECT day, 'print_{c}', 0, SUM({c}) FROM instance_days GROUP BY day"
            for c, n in zip(PRINT_COLUMNS, PRINTS)
            if n
        ),
        "SELECT day, event, 0, COUNT(*) FROM events GROUP BY day, event",
    ]
    return [f"INSERT INTO ingest_counts (day, event, shard, n) {s}" for s in selects]


@contextlib.contextmanager
def _seed_days(q, days: List[int]) -> Iterator[None]:
    """A temporary table ``seed_days`` of ``days`` within the transaction ``q``."""
    q.run("CREATE TEMP TABLE seed_days (day INTEGER NOT NULL)")
    q.many("INSERT INTO seed_days (day) VALUES (?)", [(d,) for d in days])
    yield
    q.run("DROP TABLE seed_days")


def seed(store, instances: int, days: int, now: float, seed_value: int = 7) -> float:
    """Write a fleet of ``instances`` x ``days`` directly into the tables, as the
    store holds what ingest wrote (every environment column, print seconds by day and
    by finishing hour, events with plugin versions, acknowledged counts); returns the seconds
    the collector's own refresh of the rollups then took.

    The daily rollups are the collector's own: its refresh computes today's, which
    are then copied to the other days (the seeded days look alike), and a second,
    timed refresh recomputes today and the windows on the full store.
    """
    from tracking_collector.store.model import ENV_COLUMNS
    from tracking_collector.timefmt import day_of

    rng = random.Random(seed_value)
    fleet = _fleet_rows(rng, instances, now)
    store.engine.bulk_insert(
        "instances",
        ("id", "uuid", "first_seen", "last_seen", *ENV_COLUMNS, "last_print"),
        fleet,
    )
    store.engine.after_copy()  # ids were written: the id sequence moves past them
    today = day_of(now)
    seeded = list(range(today - days + 1, today + 1))
    with store.engine.write() as q, _seed_days(q, seeded):  # a seeding tool
        q.run(_instance_days_sql())
        q.run(_print_hours_sql())
    store.engine.bulk_insert(
        "events",
        ("instance_id", "day", "ts", "event", "key", "version", "fields"),
        _event_rows(rng, fleet, days, now),
    )
    with store.engine.write() as q:
        for statement in _ingest_counts_sql():
            q.run(statement)
    store.refresh(now, force=True)
    with store.engine.write() as q, _seed_days(q, seeded):
        q.run(
            "INSERT INTO rollups (day, metric, key, value)"
            " SELECT d.day, r.metric, r.key, r.value FROM seed_days d CROSS JOIN"
            " rollups r WHERE r.day = ? AND d.day NOT IN (SELECT day FROM rollups)",
            (today,),
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
        get_collector(app).publisher.cache_seconds = 60.0
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
    with store.engine.read() as q:  # a measurement through the store's engine
        # Every table of the database (a fresh one per store) with its indexes.
        return int(
            q.rows(
                "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )[0][0]
        )


def _instance_days(store) -> int:
    with store.engine.read() as q:
        return int(q.rows("SELECT COUNT(*) FROM instance_days")[0][0])


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
                    size = _size(store, db) / _instance_days(store)
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

    instances, days = REPORTING, REPORTING_DAYS
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
                stored = common.reports_stored(store)
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
