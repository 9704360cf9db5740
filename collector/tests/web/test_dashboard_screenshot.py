"""Headless Chromium screenshot of the dashboard filled by a running collector."""

from __future__ import annotations

import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import requests
from harness.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit import REPO_ROOT, eventually, located_live_args, new_id

DAY = 86400


def artifacts_dir() -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _send_instance(url: str, n: int, seed: int) -> None:
    """One fake OctoPrint instance: pong, printer connection, two weeks of prints."""
    rng = random.Random(seed)
    versions = ["1.11.8"] * 5 + ["1.11.7"] * 3 + ["1.10.3"] * 2 + ["1.9.3"]
    pythons = ["3.11.2"] * 4 + ["3.12.3"] * 2 + ["3.9.2"] * 2 + ["3.7.3"]
    oses = ["linux"] * 8 + ["windows", "macos"]
    firmware = (
        ["Marlin"] * 5 + ["Klipper"] * 3 + ["Prusa-Firmware"] * 2 + ["RepRapFirmware"]
    )
    plugins = [
        "octolapse:0.4.5",
        "bedlevelvisualizer:1.1.1",
        "themeify:1.2.2",
        "firmwareupdater:1.14.0",
        "prettygcode:1.2.4",
        "printtimegenius:2.3.3",
        "obico:2.5.0",
    ]
    ips = ["203.0.113.{}", "198.51.100.{}", "192.0.2.{}"]
    iid = new_id()
    version = rng.choice(versions)
    headers = {
        "X-Forwarded-For": rng.choice(ips).format(n % 250 + 1),
        "User-Agent": f"OctoPrint/{version} UsageTracking/0.1.0",
    }
    with requests.Session() as http:
        http.headers.update(headers)
        body = urlencode(
            {
                "version": version,
                "os": rng.choice(oses),
                "python": rng.choice(pythons),
                "platform": "linux",
                "bits": 64,
                "cores": 4,
                "ram": "3.8 GB",
                "plugins": ",".join(rng.sample(plugins, rng.randint(1, 5))),
            }
        ).replace("+", "%20")
        assert http.post(f"{url}/track/{iid}/pong/", data=body, timeout=10).ok
        assert http.get(
            f"{url}/track/{iid}/printer_connected/",
            params={"firmware_name": rng.choice(firmware)},
            timeout=10,
        ).ok
        for day in range(14):
            if rng.random() < 0.5:
                continue
            age = day * DAY + rng.randint(0, DAY - 1)
            outcome = rng.choices(
                ["print_done", "print_failed", "print_cancelled"], weights=[7, 2, 1]
            )[0]
            assert http.get(
                f"{url}/track/{iid}/print_started/", params={"age": age}, timeout=10
            ).ok
            assert http.get(
                f"{url}/track/{iid}/{outcome}/",
                params={"age": max(0, age - 600), "elapsed": 600},
                timeout=10,
            ).ok


def _populate(url: str, instances: int) -> None:
    # Parallel senders, as many OctoPrint instances would be: exercises the batching.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: _send_instance(url, n, seed=n), range(instances)))


def test_dashboard_screenshot_shows_charts_for_many_instances(
    start_server, tmp_path, geo_db
):
    server = start_server(
        *located_live_args(geo_db),
    )
    _populate(server.url, instances=40)
    # Rollups follow ingest within a refresh interval.
    eventually(
        lambda: (
            requests.get(f"{server.url}/api/stats", timeout=10).json()["active"]["7d"][
                "instances"
            ]
            == 40
        )
    )

    out = artifacts_dir() / "collector-dashboard.png"
    if out.exists():
        out.unlink()
    profile = tmp_path / "chromium-profile"
    subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_ARGS,
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
            "--window-size=1280,1600",
            server.url + "/",
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 30_000, "screenshot looks blank"
