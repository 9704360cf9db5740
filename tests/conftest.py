"""Shared fixtures: a loopback receiver, the reference collector, and real OctoPrint
servers in temp basedirs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.octoprint import OctoPrint, copy_basedir, make_basedir
from harness.process import ServerProcess, answers, free_port
from harness.receiver import Receiver
from octoprint_tracking.settings import KILL_SWITCHES

ROOT = Path(__file__).resolve().parent.parent
COLLECTOR = Path(sys.executable).with_name("tracking-collector")


@pytest.fixture(autouse=True)
def tracking_environment(monkeypatch):
    """CI sets CI=true, which switches tracking off. Plugins built inside the test
    process must see a controlled environment, like the servers the tests start; a
    test that wants a kill switch sets it itself."""
    for name in KILL_SWITCHES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def collector(tmp_path):
    """The reference collector (``tracking-collector serve``) on loopback; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # min-group 1: a single test instance may be shown; the default (10) hides it.
    server = ServerProcess(
        [COLLECTOR, "serve", "--host", "127.0.0.1", "--port", port,
         "--db", tmp_path / "collector.sqlite", "--min-group", "1"],
        tmp_path / "collector.log",
    ).start(answers(url + "/api/stats"), timeout=30)  # fmt: skip
    yield url
    server.stop(timeout=20)


@pytest.fixture(scope="session")
def template_basedir(tmp_path_factory):
    """A basedir with users, made once: the user CLI is slow."""
    return make_basedir(tmp_path_factory.mktemp("template") / "basedir")


@pytest.fixture
def octoprint(template_basedir, tmp_path, receiver):
    """Factory: ``octoprint(config={...}, env={...})`` starts a real server."""
    started = []

    def factory(config=None, env=None, basedir=None, start=True):
        basedir = basedir or copy_basedir(
            template_basedir, tmp_path / f"basedir{len(started)}"
        )
        server = OctoPrint(basedir, receiver.url, config=config, env=env)
        started.append(server)
        return server.start() if start else server

    yield factory
    for server in started:
        try:
            server.stop()
        except Exception:
            pass


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
