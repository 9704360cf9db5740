"""The one-command demo: a local collector and OctoPrint with this plugin and the
virtual printer, both on loopback. Ctrl-C stops both.

Run it with ``make demo`` (which first builds ``.venv``). Data lives in ``demo-data/``;
delete that folder to meet the first-run wizard again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from octoprint_tracking.settings import KILL_SWITCHES

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DEMO_DATA", ROOT / "demo-data"))
HOST = "127.0.0.1"
OCTOPRINT_PORT = int(os.environ.get("DEMO_OCTOPRINT_PORT", "5000"))
COLLECTOR_PORT = int(os.environ.get("DEMO_COLLECTOR_PORT", "8989"))
LOGIN = ("demo", "demo-password")
BIN = Path(sys.executable).parent
# The demo is meant to send to its own collector: switch the kill switches off for
# the two processes it starts (CI and friends stay untouched in your shell).
ENV = {k: v for k, v in os.environ.items() if k not in KILL_SWITCHES}


def octoprint(*args: str) -> list:
    return [
        str(BIN / "python"),
        "-m",
        "octoprint",
        "--basedir",
        str(DATA / "octoprint"),
        *args,
    ]


def prepare() -> None:
    basedir = DATA / "octoprint"
    if (basedir / "config.yaml").exists():
        return
    basedir.mkdir(parents=True, exist_ok=True)
    print("Preparing the demo OctoPrint (first run only)...", flush=True)
    subprocess.run(
        octoprint("user", "add", LOGIN[0], "--password", LOGIN[1], "--admin"),
        check=True,
        env=ENV,
        cwd=basedir,
        stdout=subprocess.DEVNULL,
    )
    config = (
        yaml.safe_load((basedir / "config.yaml").read_text())
        if (basedir / "config.yaml").exists()
        else {}
    )
    config = config or {}
    config.setdefault("server", {})["firstRun"] = True
    config["server"]["onlineCheck"] = {"enabled": False}
    plugins = config.setdefault("plugins", {})
    plugins["virtual_printer"] = {"enabled": True}
    plugins["usage_tracking"] = {
        "server": f"http://{HOST}:{COLLECTOR_PORT}/track/{{id}}/{{event}}/",
        # Faster than the real 15 minutes, so the dashboard fills while you look.
        "ping": 60,
    }
    (basedir / "config.yaml").write_text(yaml.safe_dump(config))


def wait_http(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} did not come up: its process exited")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not come up in {timeout:.0f}s")


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    prepare()
    logs = DATA / "logs"
    logs.mkdir(exist_ok=True)
    processes = []
    try:
        collector = subprocess.Popen(
            [str(BIN / "tracking-collector"), "serve", "--host", HOST,
             "--port", str(COLLECTOR_PORT), "--db", str(DATA / "collector.sqlite"),
             # A demo fleet of one: show every group. Real collectors hide < 10.
             "--min-group", "1"],
            env=ENV, stdout=open(logs / "collector.log", "ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(collector)
        server = subprocess.Popen(
            octoprint("serve", "--host", HOST, "--port", str(OCTOPRINT_PORT),
                      *(["--iknowwhatimdoing"] if os.geteuid() == 0 else [])),
            env=ENV, cwd=DATA / "octoprint",
            stdout=open(logs / "octoprint.out", "ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(server)
        wait_http(f"http://{HOST}:{COLLECTOR_PORT}/", collector)
        wait_http(f"http://{HOST}:{OCTOPRINT_PORT}/", server)
        print(
            f"""
  OctoPrint   http://{HOST}:{OCTOPRINT_PORT}/   login: {LOGIN[0]} / {LOGIN[1]}
              (the first-run wizard asks about anonymous usage tracking;
               connect to the printer "VIRTUAL" to see printer reports)
  Collector   http://{HOST}:{COLLECTOR_PORT}/   dashboard of what arrives
              (shows groups of any size here; a real collector folds
               groups under 10 instances into an "other" count)

  Data and logs in {DATA}. Press Ctrl-C to stop both.
""",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("A process exited; stopping the demo.")
        return 1
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    finally:
        for p in reversed(processes):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(processes):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        print("Stopped.")


if __name__ == "__main__":
    sys.exit(main())
