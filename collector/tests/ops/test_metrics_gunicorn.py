"""/metrics under gunicorn with two workers: every scrape sums all workers."""

from __future__ import annotations

import os
import signal

import requests
from prometheus_client.parser import text_string_to_metric_families
from testkit import Gunicorn, eventually, new_id

REPORTS = 60


def _accepted(url: str) -> float:
    """Reports accepted, as one scrape (answered by either worker) says."""
    response = requests.get(url + "/metrics", timeout=10)
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    samples = families["tracking_collector_reports_accepted"].samples
    return sum(s.value for s in samples if s.name.endswith("_total"))


def test_metrics_sum_both_workers_and_survive_a_worker_restart(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    # A stale file from an earlier run must not be counted.
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")
    with Gunicorn(
        tmp_path,
        tmp_path / "gunicorn.sqlite",
        TRACKING_COLLECTOR_THREADS="4",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        # No loop runs meanwhile: a worker is stopped only while idle (Gunicorn.only).
        TRACKING_COLLECTOR_REFRESH_INTERVAL="3600",
        TRACKING_COLLECTOR_PURGE_INTERVAL="3600",
    ) as server:
        url = server.url
        assert not (metrics_dir / "counter_999999.db").exists()
        eventually(lambda: len(server.workers()) == 2, what="two workers")
        workers = server.workers()
        # Each worker serves a share of the reports (the other one stopped
        # meanwhile), the first also the refused one: which worker accepts a
        # connection is otherwise the kernel's choice, and one may take them all.
        shares = {workers[0]: REPORTS // 3, workers[1]: REPORTS - REPORTS // 3}
        for worker, share in shares.items():
            with server.only(worker):
                for _ in range(share):
                    r = requests.get(f"{url}/track/{new_id()}/ping/", timeout=10)
                    assert r.status_code == 200
                if worker == workers[0]:
                    r = requests.get(f"{url}/track/x/ping/", timeout=10)
                    assert r.status_code == 400
        files = {p.name for p in metrics_dir.iterdir()}
        pids = {
            int(name.removesuffix(".db").rsplit("_", 1)[-1])
            for name in files
            if name.startswith("counter_")
        }
        assert pids == set(workers), files  # each worker counted its share
        # Whichever worker answers the scrape, the figure is the sum over both.
        for worker in workers:
            with server.only(worker):
                assert _accepted(url) == REPORTS
        for _ in range(4):
            assert _accepted(url) == REPORTS
        text = requests.get(url + "/metrics", timeout=10).text
        refused = [
            s
            for f in text_string_to_metric_families(text)
            if f.name == "tracking_collector_reports_refused"
            for s in f.samples
            if s.name.endswith("_total")
        ]
        assert [(s.labels["reason"], s.value) for s in refused] == [
            ("invalid_instance_id", 1.0)
        ]
        # A worker dies: gunicorn replaces it, its live gauge goes, its counts stay.
        dead = workers[0]
        os.kill(dead, signal.SIGKILL)
        eventually(
            lambda: not (metrics_dir / f"gauge_livesum_{dead}.db").exists(),
            timeout=30,
        )
        eventually(server.up, timeout=30, interval=0.05)
        assert _accepted(url) == REPORTS
    assert server.proc.returncode == 0, server.log_path.read_text()


def test_importing_the_gunicorn_config_leaves_the_environment_alone(monkeypatch):
    import importlib

    from tracking_collector import gunicorn_conf

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    importlib.reload(gunicorn_conf)
    # Only gunicorn's master sets it (on_starting); a leak would switch every
    # process started later by the importer into multi-process mode.
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_metrics_count_reports_under_the_readme_gunicorn_command(tmp_path):
    # The README's production command: no PROMETHEUS_MULTIPROC_DIR from the operator,
    # so the shipped config makes one in the master before any worker starts.
    with Gunicorn(tmp_path, tmp_path / "readme.sqlite", readme=True) as server:
        url = server.url
        for _ in range(REPORTS):
            r = requests.get(f"{url}/track/{new_id()}/ping/", timeout=10)
            assert r.status_code == 200
        assert requests.get(f"{url}/track/x/ping/", timeout=10).status_code == 400
        text = requests.get(url + "/metrics", timeout=10).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert "tracking_collector_reports_accepted" in families, text
        assert _accepted(url) == REPORTS
        refused = [
            (s.labels["reason"], s.value)
            for s in families["tracking_collector_reports_refused"].samples
            if s.name.endswith("_total")
        ]
        assert refused == [("invalid_instance_id", 1.0)]
        commits = families["tracking_collector_commit_seconds"].samples
        assert any(s.name.endswith("_count") and s.value > 0 for s in commits)


def test_loading_the_gunicorn_config_imports_neither_flask_nor_prometheus(tmp_path):
    # gunicorn's master loads the config module; whatever it imports is imported
    # before on_starting sets PROMETHEUS_MULTIPROC_DIR, and the workers inherit it.
    import subprocess
    import sys

    script = (
        "import sys, tracking_collector.gunicorn_conf\n"
        "print(sorted(m for m in ('flask', 'prometheus_client') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "[]"
