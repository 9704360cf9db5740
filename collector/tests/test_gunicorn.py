"""Production setup: the collector under gunicorn with the shipped config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests
from collector_testkit import COLLECTOR_DIR, free_port, new_id, wait_for

from tracking_collector.store import SQLiteStore

GUNICORN = Path(sys.executable).with_name("gunicorn")



def test_gunicorn_with_shipped_config_acknowledges_stored_reports(tmp_path):
    port = free_port()
    db = tmp_path / "gunicorn.sqlite"
    env = dict(
        os.environ,
        PYTHONPATH=str(COLLECTOR_DIR),
        TRACKING_COLLECTOR_DB=str(db),
        TRACKING_COLLECTOR_BIND=f"127.0.0.1:{port}",
        TRACKING_COLLECTOR_WORKERS="2",
    )
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(GUNICORN), "-c", "python:tracking_collector.gunicorn_conf"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def up():
            assert proc.poll() is None, log.read_text()
            try:
                return requests.get(url + "/healthz", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_for(up, timeout=30, interval=0.05)
        ids = [new_id() for _ in range(20)]
        for iid in ids:
            r = requests.post(
                f"{url}/track/{iid}/pong/", data="version=1.11.8", timeout=10
            )
            assert r.json() == {"ok": True}
    finally:
        proc.terminate()
        proc.wait(30)
    store = SQLiteStore(str(db))
    assert {r.instance for r in store.reports()} == set(ids)
    store.close()
    text = log.read_text()
    assert "127.0.0.1 " not in text.replace(f"127.0.0.1:{port}", "")
    assert not any(iid in text for iid in ids)
