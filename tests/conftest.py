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
from octoprint_tracking.settings import KILL_SWITCHES, POLICY_ENV, POLICY_NAME

ROOT = Path(__file__).resolve().parent.parent
COLLECTOR = Path(sys.executable).with_name("tracking-collector")


@pytest.fixture(autouse=True)
def tracking_environment(monkeypatch):
    """CI sets CI=true, which switches tracking off. Plugins built inside the test
    process must see a controlled environment, like the servers the tests start; a
    test that wants a kill switch (or a machine policy) sets it itself."""
    for name in KILL_SWITCHES + (POLICY_ENV,):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


class Collector:
    """The reference collector (``tracking-collector serve``) on loopback, on one port
    and one database for its whole life, so that it can be stopped (an outage) and
    started again."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._folder = folder
        self._server = None

    def start(self) -> "Collector":
        # min-group 1: a single test instance may be shown; the default (10) hides it.
        self._server = ServerProcess(
            [COLLECTOR, "serve", "--host", "127.0.0.1", "--port", self.port,
             "--db", self._folder / "collector.sqlite", "--min-group", "1"],
            self._folder / "collector.log",
        ).start(answers(self.url + "/api/stats"), timeout=30)  # fmt: skip
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=20)
            self._server = None


@pytest.fixture
def collector_server(tmp_path):
    c = Collector(tmp_path).start()
    yield c
    c.stop()


@pytest.fixture
def collector(collector_server):
    """The reference collector's URL."""
    return collector_server.url


@pytest.fixture(scope="session")
def template_basedir(tmp_path_factory):
    """A basedir with users, made once: the user CLI is slow."""
    return make_basedir(tmp_path_factory.mktemp("template") / "basedir")


def _stop(server) -> None:
    try:
        server.stop()
    except Exception:
        pass


def new_server(basedir: Path, receiver: Receiver, config=None, env=None, policy=None):
    """A real OctoPrint on ``basedir`` (not started), reporting to ``receiver``;
    ``policy``: the text of the machine policy file in its basedir."""
    if policy is not None:
        (basedir / POLICY_NAME).write_text(policy)
    return OctoPrint(basedir, receiver.url, config=config, env=env)


@pytest.fixture
def octoprint(template_basedir, tmp_path, receiver):
    """Factory: ``octoprint(config={...}, env={...}, policy="...")`` starts a real
    server."""
    started = []

    def factory(config=None, env=None, basedir=None, start=True, policy=None):
        basedir = basedir or copy_basedir(
            template_basedir, tmp_path / f"basedir{len(started)}"
        )
        server = new_server(basedir, receiver, config, env, policy)
        started.append(server)
        return server.start() if start else server

    yield factory
    for server in started:
        _stop(server)


@pytest.fixture(scope="module")
def module_octoprint(template_basedir, tmp_path_factory):
    """Factory of a server the tests of one module share, with a receiver of its own
    (``server.receiver``): ``module_octoprint(config={...}, policy=...)``, where the
    policy may be a function of the receiver that returns its text."""
    started = []

    def factory(config=None, policy=None):
        receiver = Receiver().start()
        basedir = copy_basedir(template_basedir, tmp_path_factory.mktemp("mod") / "base")
        text = policy(receiver) if callable(policy) else policy
        server = new_server(basedir, receiver, config, policy=text)
        server.receiver = receiver
        started.append(server)
        return server.start()

    yield factory
    for server in started:
        _stop(server)
        server.receiver.stop()


def reporting_to(collector_url: str, basedir: Path, config=None):
    """A real OctoPrint on ``basedir`` that reports to the reference collector,
    returned once the collector has its startup and pong (the journal says)."""
    server = OctoPrint(basedir, collector_url + "/track/{id}/{event}/", config=config)
    server.start()
    server.wait_until(
        server.session(), "/api/plugin/usage_tracking?what=journal",
        lambda j: {"startup", "pong"} <= {e["report"] for e in j["journal"]
                                          if e["outcome"] == "delivered"},
        what="startup and pong delivered to the collector",
    )  # fmt: skip
    return server


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
