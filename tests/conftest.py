"""Shared fixtures: a loopback receiver, and real OctoPrint servers in temp basedirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.octoprint import OctoPrint, copy_basedir, make_basedir
from harness.receiver import Receiver
from octoprint_tracking.settings import KILL_SWITCHES

ROOT = Path(__file__).resolve().parent.parent


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
