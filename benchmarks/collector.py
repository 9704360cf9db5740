"""Row 7: ingest rate of the collector (``collector/``, package ``tracking_collector``).

When the package is importable, ``tracking-collector serve`` is started as a
subprocess on a fresh SQLite database and loaded by a bounded client: ``THREADS``
threads, each with its own keep-alive connection (``http.client``, much lighter on
the shared CPUs than requests), send ``PER_THREAD`` pings
(``GET /track/<uuid>/ping/?octoprint_uptime=1&printer_state=OPERATIONAL``). Reported:
reports/s over the whole load, p50/p99 latency, and whether every acknowledged (200)
report is stored (``SELECT COUNT(*) FROM reports``).
"""

from __future__ import annotations

import http.client
import importlib.util
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import List

from tests.support.octoprint import free_port

from . import common
from .common import Row

THREADS = 4
PER_THREAD = 2500
GOAL = "≥ 2,000 reports/s, p99 < 50 ms, acked == stored"


def _command(port: int, db: Path) -> List[str]:
    script = Path(sys.executable).with_name("tracking-collector")
    if not script.exists():
        found = shutil.which("tracking-collector")
        script = Path(found) if found else None
    base = [str(script)] if script else [sys.executable, "-m", "tracking_collector.cli"]
    return base + ["serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db)]


def _wait_ready(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"collector exited with {process.returncode}")
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


def _client(port: int, latencies: List[float], acked: List[int], errors: List[str]):
    instance = str(uuid.uuid4())
    path = f"/track/{instance}/ping/?octoprint_uptime=1&printer_state=OPERATIONAL"
    headers = {"User-Agent": "OctoPrint/1.11.8"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ok = 0
    mine = []
    for _ in range(PER_THREAD):
        start = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(type(exc).__name__)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        mine.append(time.perf_counter() - start)
        if response.status == 200:
            ok += 1
        else:
            errors.append(str(response.status))
    conn.close()
    latencies.extend(mine)
    acked.append(ok)


def run() -> List[Row]:
    metric = f"Collector ingest, {THREADS} threads × {PER_THREAD:,} pings"
    if importlib.util.find_spec("tracking_collector") is None:
        return [Row("7", metric, "collector not installed", "n/a", "n/a", GOAL, None)]
    folder = common.scratch("collector")
    db = folder / "collector.sqlite3"
    port = free_port()
    log = open(folder / "collector.log", "wb")
    process = subprocess.Popen(
        _command(port, db), stdout=log, stderr=subprocess.STDOUT, cwd=folder
    )
    try:
        _wait_ready(port, process)
        latencies: List[float] = []
        acked: List[int] = []
        errors: List[str] = []
        threads = [
            threading.Thread(target=_client, args=(port, latencies, acked, errors))
            for _ in range(THREADS)
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    total_acked = sum(acked)
    rate = total_acked / elapsed
    p50 = common.median(latencies) * 1000
    p99 = common.percentile(latencies, 99) * 1000
    consistent = total_acked == stored
    text = (
        f"{rate:,.0f} reports/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
        f"acked {total_acked:,} / stored {stored:,}"
        + (f"; {len(errors)} errors" if errors else "")
    )
    return [
        Row(
            "7",
            metric,
            text,
            "n/a",
            "n/a",
            GOAL,
            rate >= 2000 and p99 < 50 and consistent,
        )
    ]
