"""A real ``octoprint serve`` in a temporary basedir, with a controlled environment.

OctoPrint and this plugin stop tracking under ``CI``; the environment of the server
process is therefore built here on purpose: the kill switches and the machine policy
variable are removed unless a test sets one.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import requests
import yaml

from octoprint_tracking.settings import KILL_SWITCHES, POLICY_ENV

from .process import ServerProcess, answers, free_port
from .wait import eventually

ADMIN = ("admin", "admin-password-1")
USER = ("viewer", "viewer-password-1")


def merge(base: Dict[str, Any], overlay: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def base_config(server_url: Optional[str]) -> Dict[str, Any]:
    plugins: Dict[str, Any] = {"virtual_printer": {"enabled": True}}
    if server_url:
        plugins["usage_tracking"] = {
            "server": server_url,
            "delivery": {"backoff_base": 0.2, "backoff_max": 1.0, "spool_interval": 1},
        }
    return {
        "server": {
            "firstRun": False,
            "onlineCheck": {"enabled": False},
            "pythonEolCheck": {"enabled": False},
        },
        "plugins": plugins,
        "devel": {"pluginTimings": False},
    }


def octoprint_cli(
    basedir: Path, *args: str, env: Optional[dict] = None, check=True, python=None
):
    return subprocess.run(
        [python or sys.executable, "-m", "octoprint", "--basedir", str(basedir), *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        # Not the source tree: its *.egg-info would make the plugin importable.
        cwd=str(basedir),
        check=check,
        timeout=120,
    )


def clean_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KILL_SWITCHES + (POLICY_ENV,)}
    env.update(extra)
    return env


def make_basedir(path: Path, with_users: bool = True) -> Path:
    """A basedir with an admin and a non-admin user (slow: two CLI calls)."""
    path.mkdir(parents=True, exist_ok=True)
    if with_users:
        octoprint_cli(path, "user", "add", ADMIN[0], "--password", ADMIN[1], "--admin")
        octoprint_cli(
            path, "user", "add", USER[0], "--password", USER[1], "--group", "users"
        )
    return path


class OctoPrint:
    def __init__(
        self,
        basedir: Path,
        server_url: Optional[str] = None,
        config: Optional[Dict[str, Any]] = None,
        env: Optional[Dict[str, str]] = None,
        python: Optional[str] = None,
    ):
        self.basedir = Path(basedir)
        self.python = python or sys.executable
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = clean_env(**(env or {}))
        self.server: Optional[ServerProcess] = None
        self.process: Optional[subprocess.Popen] = None
        config_path = self.basedir / "config.yaml"
        existing = {}
        if config_path.exists():
            existing = yaml.safe_load(config_path.read_text()) or {}
        merged = merge(merge(existing, base_config(server_url)), config or {})
        config_path.write_text(yaml.safe_dump(merged))

    @property
    def log(self) -> Path:
        return self.basedir / "logs" / "octoprint.log"

    @property
    def config(self) -> Dict[str, Any]:
        return yaml.safe_load((self.basedir / "config.yaml").read_text()) or {}

    def start(self, timeout: float = 90) -> "OctoPrint":
        self.server = ServerProcess(
            [
                self.python,
                "-m",
                "octoprint",
                "serve",
                "--iknowwhatimdoing",
                "--basedir",
                self.basedir,
                "--host",
                "127.0.0.1",
                "--port",
                self.port,
            ],
            self.basedir / "serve.out",
            env=self.env,
            cwd=self.basedir,
        ).start(answers(self.url + "/api/version", (200, 401, 403)), timeout=timeout)
        self.process = self.server.process
        self.wait_for_log("Listening on", timeout=timeout)
        return self

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        eventually(
            lambda: self.log.exists() and text in self.log.read_text(errors="replace"),
            timeout=timeout,
            what=f"{text!r} in octoprint.log",
            interval=0.2,
        )

    def cli(self, *args: str, check=True) -> subprocess.CompletedProcess:
        """``octoprint --basedir <ours> <args>`` with the server's Python and env."""
        return octoprint_cli(
            self.basedir, *args, env=self.env, check=check, python=self.python
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> float:
        """Stop the server; returns how long it took."""
        return self.server.stop(sig, timeout) if self.server else 0.0

    # HTTP ---------------------------------------------------------------------

    def session(self, user=ADMIN) -> requests.Session:
        """A logged-in session: GET / for the CSRF cookie, then /api/login."""
        s = requests.Session()
        s.get(self.url + "/", timeout=30)
        token = next(
            (c.value for c in s.cookies if c.name.startswith("csrf_token")), None
        )
        if token:
            s.headers["X-CSRF-Token"] = token
        if user is not None:
            r = s.post(
                self.url + "/api/login",
                json={"user": user[0], "pass": user[1], "remember": False},
                timeout=30,
            )
            r.raise_for_status()
        return s

    def api(
        self, s: requests.Session, method: str, path: str, **kwargs
    ) -> requests.Response:
        return s.request(method, self.url + path, timeout=30, **kwargs)

    def wait_until(self, s, path, predicate, timeout=60, what="condition"):
        last = []

        def reached():
            r = self.api(s, "GET", path)
            last[:] = [r.json() if r.ok else r.status_code]
            return r.ok and predicate(last[0])

        try:
            eventually(reached, timeout=timeout, what=what, interval=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}, last: {str(last[:1])[:500]}") from None
        return last[0]

    def connect_printer(self, s) -> None:
        r = self.api(
            s, "POST", "/api/connection", json={"command": "connect", "port": "VIRTUAL"}
        )
        assert r.status_code == 204, r.text
        self.wait_until(
            s,
            "/api/connection",
            lambda c: c["current"]["state"] == "Operational",
            what="printer operational",
        )


def copy_basedir(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    return target
