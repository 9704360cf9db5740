"""Row 7: ingest rate of the collector (``collector/``, package ``tracking_collector``).

The production setup is measured: gunicorn with the shipped config module
(``gunicorn -c python:tracking_collector.gunicorn_conf``), configured only through
``TRACKING_COLLECTOR_*`` environment variables (database and bind address; workers,
threads and everything else are the shipped defaults), on a fresh SQLite database
and on a fresh database of a throwaway PostgreSQL cluster (one row each).

The load generator shares the CPUs with the server, so it is a lean one: a single
asyncio event loop in this process, ``CONNECTIONS`` keep-alive HTTP/1.1 connections
(raw ``asyncio.Protocol``, no HTTP library), each sending its share of ``TOTAL``
pings back to back (``GET /track/<uuid>/ping/?octoprint_uptime=..&printer_state=..``,
an OctoPrint User-Agent), with instance ids varied over ``INSTANCES`` random UUIDs.
Latency is the time from writing a request to having parsed its whole response.
``WARMUP`` requests on one connection go first and are not timed. The client's own
CPU use (share of one CPU during the timed load) is printed with the result, and so
is the CPU time the collector used per report: its gunicorn processes and, on
PostgreSQL, the database server's, over the timed load (steadier than the rate on a
shared machine).

Two workloads, each on both backends:

- **fleet**: as the real fleet, the instances report from many networks. The
  collector trusts 127.0.0.1 as its proxy (``TRACKING_COLLECTOR_TRUSTED_PROXIES``,
  as the README's production command does), and each instance's requests carry an
  ``X-Forwarded-For`` address in one of ``NETWORKS`` /24 networks (``INSTANCES /
  NETWORKS`` instances each, within the admission's budget of new ids per network).
- **one source**: every report from 127.0.0.1, with no proxy trusted. Its 2,000 new
  ids are one source bursting far past its budget of 50: the admission holds its
  cohort, so this measures the hold path under load, not a real fleet.

Not in either: the geo lookup production pays per report (the README's production
command sets ``TRACKING_COLLECTOR_GEOIP``; no GeoIP database is set here) and the
events and print-hours steps of ingest (every request is a ping). The label says
so ("pings only, no GeoIP"), and each run prints the machine's load average before
and after it (the CPUs are shared).

Reported: reports/s over the timed load (acknowledged reports / wall time), p50/p99
latency, and whether every acknowledged (200) report is stored: after gunicorn has
stopped (SIGTERM, graceful: the workers finish their queued commits), the reports are
counted by the store (``common.reports_stored``: per-day report counters written in
the same transaction as the reports) and compared with all 200 answers,
warm-up included.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from harness.process import free_port

from . import common
from .common import Row

CONNECTIONS = common.sized(32, 8)
TOTAL = common.sized(36_000, 2_000)
WARMUP = common.sized(300, 50)
INSTANCES = common.sized(2_000, 200)
NETWORKS = common.sized(500, 50)
TRUSTED_PROXY = "127.0.0.1"
TIMEOUT = 30.0  # seconds without progress before the run is declared stuck
GOAL = "≥ 2,500 reports/s, p99 < 50 ms, acked == stored"


def _gunicorn() -> Optional[str]:
    script = Path(sys.executable).with_name("gunicorn")
    if script.exists():
        return str(script)
    return shutil.which("gunicorn")


def _env(db: str, port: int, networks: int) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKING_COLLECTOR_")}
    env["TRACKING_COLLECTOR_DB"] = str(db)
    env["TRACKING_COLLECTOR_BIND"] = f"127.0.0.1:{port}"
    if networks:
        env["TRACKING_COLLECTOR_TRUSTED_PROXIES"] = TRUSTED_PROXY
    return env


def _forwarded_for(instance: int, networks: int) -> str:
    """An address of ``instance`` in one of ``networks`` /24s of 198.18.0.0/15
    (reserved for benchmarks), or "" for none."""
    if not networks:
        return ""
    k = instance % networks
    return f"X-Forwarded-For: 198.{18 + k // 256}.{k % 256}.{1 + instance % 250}\r\n"


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending ``count`` pings one after the other."""

    def __init__(self, load: "_Load", count: int, seed: int):
        self.load = load
        self.left = count
        self.seed = seed
        self.buffer = b""
        self.sent_at = 0.0
        self.transport: Optional[asyncio.Transport] = None
        self.finished = load.loop.create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        if self.left == 0:
            self.transport.close()
            if not self.finished.done():
                self.finished.set_result(None)
            return
        self.left -= 1
        self.seed += 1
        request = self.load.request(self.seed)
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            status = int(head[9:12])
            self.load.done(status, time.perf_counter() - self.sent_at)
            self._send()

    def connection_lost(self, exc) -> None:
        if not self.finished.done():
            if self.left or self.buffer:
                self.load.errors.append(f"connection lost: {exc!r}")
            self.finished.set_result(None)


class _Load:
    def __init__(self, port: int, networks: int):
        self.port = port
        self.loop = asyncio.get_running_loop()
        ids = [str(uuid.uuid4()) for _ in range(INSTANCES)]
        self.requests = [
            (
                f"GET /track/{iid}/ping/?octoprint_uptime={n * 60}"
                "&printer_state=OPERATIONAL HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\n"
                "User-Agent: OctoPrint/1.11.8\r\n"
                f"{_forwarded_for(n, networks)}"
                "Accept: */*\r\n\r\n"
            ).encode("ascii")
            for n, iid in enumerate(ids)
        ]
        self.latencies: List[float] = []
        self.acked = 0
        self.errors: List[str] = []
        self.progress = 0
        self.timed = False
        self.cpu_share = 0.0

    def request(self, seed: int) -> bytes:
        return self.requests[seed % INSTANCES]

    def done(self, status: int, latency: float) -> None:
        self.progress += 1
        if status == 200:
            self.acked += 1
        else:
            self.errors.append(str(status))
        if self.timed:
            self.latencies.append(latency)

    async def run(self, connections: int, total: int, timed: bool) -> float:
        self.timed = timed
        per, extra = divmod(total, connections)
        protocols = [
            _Connection(self, per + (1 if i < extra else 0), i * 7919)
            for i in range(connections)
        ]
        start = time.perf_counter()
        await asyncio.gather(
            *(
                self.loop.create_connection(lambda p=p: p, "127.0.0.1", self.port)
                for p in protocols
            )
        )
        waiting = asyncio.gather(*(p.finished for p in protocols))
        seen = -1
        while not waiting.done():
            if self.progress == seen:
                waiting.cancel()
                for p in protocols:
                    if p.transport is not None:
                        p.transport.abort()
                self.errors.append("stuck")
                break
            seen = self.progress
            await asyncio.wait([waiting], timeout=TIMEOUT)
        return time.perf_counter() - start


class _ServerCpu:
    """CPU seconds used by process trees (gunicorn's, the database server's) between
    ``start()`` and ``stop()``, the two ends of the timed load. A process that ends
    in between would be missed (none does: the workers and the database sessions
    of their pools last); one that starts in between counts in full."""

    def __init__(self, roots: List[int]):
        self.roots = roots
        self.used = 0.0
        self._start: Dict[int, float] = {}

    def _sample(self) -> Dict[int, float]:
        import psutil

        seen = {}
        for root in self.roots:
            try:
                tree = psutil.Process(root)
                processes = [tree, *tree.children(recursive=True)]
            except psutil.Error:
                continue
            for p in processes:
                try:
                    t = p.cpu_times()
                except psutil.Error:
                    continue
                seen[p.pid] = t.user + t.system
        return seen

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> None:
        end = self._sample()
        self.used = sum(v - self._start.get(pid, 0.0) for pid, v in end.items())


def _database_server(db: str) -> List[int]:
    """The PostgreSQL server (postmaster) behind ``db``: the parent of a backend."""
    if "://" not in db:
        return []
    import psutil
    import psycopg

    with psycopg.connect(db) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        return [psutil.Process(backend).ppid()]


async def _load(port: int, networks: int, cpu: _ServerCpu):
    load = _Load(port, networks)
    await load.run(1, WARMUP, timed=False)
    warm_acked = load.acked
    client = time.process_time()
    cpu.start()
    elapsed = await load.run(CONNECTIONS, TOTAL, timed=True)
    cpu.stop()
    load.cpu_share = (time.process_time() - client) / elapsed
    return load, warm_acked, elapsed


def _wait_ready(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("collector did not start")


def _measure(gunicorn: str, db: str, folder: Path, networks: int) -> Dict[str, object]:
    port = free_port()
    log = open(folder / "gunicorn.log", "ab")
    process = subprocess.Popen(
        [gunicorn, "-c", "python:tracking_collector.gunicorn_conf"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
        env=_env(db, port, networks),
    )
    cpu = _ServerCpu([process.pid, *_database_server(db)])
    try:
        _wait_ready(port, process)
        load, warm_acked, elapsed = asyncio.run(_load(port, networks, cpu))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()
    from tracking_collector.store import open_store

    # Counted in the same transaction as the reports themselves (pings are folded
    # into per-instance-day activity, never stored as rows of their own).
    store = open_store(db)
    try:
        stored = common.reports_stored(store)
    finally:
        store.close()
    timed = load.acked - warm_acked
    return {
        "rate": timed / elapsed,
        "us": cpu.used / max(1, timed) * 1e6,
        "p50": common.median(load.latencies) * 1000,
        "p99": common.percentile(load.latencies, 99) * 1000,
        "acked": load.acked,
        "stored": stored,
        "errors": load.errors,
        "cpu": load.cpu_share,
    }


def _workloads() -> List[Tuple[str, int]]:
    """(label, networks) of each workload; ``BENCH_INGEST_WORKLOADS=fleet`` (or
    ``one-source``) runs only one."""
    workloads = {
        "fleet": (f"fleet from {NETWORKS:,} networks", NETWORKS),
        "one-source": ("one source (127.0.0.1, a burst of new ids: held)", 0),
    }
    chosen = os.environ.get("BENCH_INGEST_WORKLOADS") or ",".join(workloads)
    return [workloads[name.strip()] for name in chosen.split(",")]


def _load_average(when: str) -> str:
    """The machine's load average (1, 5, 15 min), printed as ``when``'s."""
    text = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {text} {when}", flush=True)
    return text


def _text(m: Dict[str, object]) -> str:
    errors = m["errors"]
    before, after = m["load"]
    return (
        f"{m['rate']:,.0f} reports/s, {m['us']:,.0f} µs CPU/report,"
        f" p50 {m['p50']:.1f} ms, p99 {m['p99']:.1f} ms;"
        f" acked {m['acked']:,} / stored {m['stored']:,};"
        f" client used {m['cpu']:.0%} of a CPU;"
        f" load average {before} before, {after} after"
        + (
            f"; {len(errors)} errors ({', '.join(sorted(set(errors))[:3])})"
            if errors
            else ""
        )
    )


def run() -> List[Row]:
    metric = (
        "Collector ingest (gunicorn, shipped config), {backend}, {workload}, "
        f"pings only, no GeoIP, {CONNECTIONS} connections × {TOTAL // CONNECTIONS:,}"
        " pings (CPU: gunicorn and database server)"
    )
    # Missing parts fail the row (and the run): a row that measures nothing must not
    # pass quietly.
    install = "pip install './collector[production]'"
    if importlib.util.find_spec("tracking_collector") is None:
        raise RuntimeError(f"collector not installed: {install}")
    gunicorn = _gunicorn()
    if gunicorn is None:
        raise RuntimeError(f"gunicorn not installed: {install}")
    from .collector_store import _backends

    rows = []
    with _backends() as backends:
        for name, new_db in backends:
            for workload, networks in _workloads():
                label = metric.format(backend=name, workload=workload)
                before = _load_average(f"before: {label}")
                try:
                    folder = common.scratch(f"collector-{name.lower()}")
                    m = _measure(gunicorn, new_db(), folder, networks)
                except Exception as exc:  # noqa: BLE001 - one case must not hide another
                    rows.extend(common.failed("7", label, exc, GOAL))
                    continue
                finally:
                    after = _load_average(f"after: {label}")
                m["load"] = (before, after)
                met = (
                    m["rate"] >= 2500
                    and m["p99"] < 50
                    and m["acked"] == m["stored"]
                    and not m["errors"]
                )
                rows.append(Row("7", label, _text(m), "n/a", "n/a", GOAL, met))
    return rows
