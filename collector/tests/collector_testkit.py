"""Shared test helpers and fixtures for the collector (re-exported by conftest.py)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

COLLECTOR_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = COLLECTOR_DIR.parent
# Test the work tree even when an older copy is installed in the venv; the repository
# root for ``harness`` (one way to start a server and to wait, shared with the plugin's
# tests and the benchmarks).
sys.path.insert(0, str(COLLECTOR_DIR))
sys.path.insert(1, str(REPO_ROOT))

from harness.process import ServerProcess, answers, free_port  # noqa: E402, F401
from harness.wait import eventually  # noqa: E402, F401 - re-exported for the tests

from tracking_collector import Config, create_app  # noqa: E402
from tracking_collector.app import get_collector  # noqa: E402

CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))
UA = "OctoPrint/1.11.8 UsageTracking/0.1.0"
TRUSTED_PROXY = "127.0.0.1"
CLIENT_IP = "203.0.113.7"


def new_id() -> str:
    return str(uuid.uuid4())


class Clock:
    def __init__(self, now: float | None = None):
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "tracking.sqlite"


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL server for the session (a database per test)."""
    from harness.pg_cluster import PgCluster, PgUnavailable

    try:
        cluster = PgCluster()
    except PgUnavailable as exc:
        # A missing PostgreSQL is a broken test setup, never a skipped test.
        pytest.fail(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """Every test using ``db``/``make_app`` runs on both backends.

    A test about one engine only overrides it with
    ``@pytest.mark.parametrize("backend", ["sqlite"])``.
    """
    return request.param


@pytest.fixture
def db(backend, db_path, request) -> str:
    """The ``--db`` value for this test: a SQLite file or a fresh PostgreSQL database."""
    if backend == "postgresql":
        return request.getfixturevalue("pg_cluster").new_database()
    return str(db_path)


def open_test_store(db: str):
    from tracking_collector.store import open_store

    return open_store(db, pool_size=4)


def stored(store) -> int:
    """Reports acknowledged into ``store`` (counted in the ingest transaction)."""
    return store.reports_stored()


def snapshot(store) -> dict:
    """Everything ``store`` holds about each instance, in a comparable form."""
    result = {}
    for iid in store.uuids():
        record = store.instance(iid)
        result[iid] = (
            record.first_seen,
            record.last_seen,
            record.env,
            record.last_print,
            record.held,
            # Source hashes depend on each store's own daily key: only presence compares.
            record.cohort is not None,
            [tuple(d) for d in record.days],
            [(e.ts, e.event, e.version, e.fields) for e in record.events],
        )
    return {"instances": result, "counts": store.ingest_counts()}


def write_geo_db(path: Path) -> Path:
    """A tiny MaxMind DB in GeoLite2-City layout, written with mmdb-writer."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-City",
        languages=["en"],
        description="test city db",
    )
    cities = {
        "203.0.113.0/24": ("DE", "Berlin"),
        "198.51.100.0/24": ("FR", "Paris"),
        "192.0.2.0/24": ("JP", "Tokyo"),
        "2001:db8::/32": ("NL", "Amsterdam"),
    }
    for net, (iso, city) in cities.items():
        writer.insert_network(
            IPSet([net]),
            {
                "country": {"iso_code": iso, "names": {"en": iso}},
                "city": {"names": {"en": city}},
            },
        )
    writer.to_db_file(str(path))
    return path


@pytest.fixture(scope="session")
def geo_db(tmp_path_factory) -> Path:
    return write_geo_db(tmp_path_factory.mktemp("geo") / "GeoLite2-City-test.mmdb")


@pytest.fixture
def make_app(db, clock):
    apps = []

    def factory(**kwargs):
        config_kwargs = {"db": db, "pool_size": 4}
        # Every Config field may be given; the rest goes to create_app.
        for key in CONFIG_FIELDS & kwargs.keys():
            config_kwargs[key] = kwargs.pop(key)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("background_purge", False)
        # Rollups refreshed on read and no stats cache: a read right after a
        # report sees it (the background refresher has tests of its own).
        kwargs.setdefault("background_refresh", False)
        config_kwargs.setdefault("stats_cache", 0)
        # Many tests here send one report per instance and move the clock on: such
        # an instance is ephemeral under the lifetime rule (issue 13) and would
        # leave the rollups. That rule has tests of its own (test_quarantine.py,
        # test_manipulation.py); here it is off unless a test asks for it.
        config_kwargs.setdefault("min_lifetime", 0)
        app = create_app(Config(**config_kwargs), **kwargs)
        app.testing = True
        apps.append(app)
        return app

    yield factory
    for app in apps:
        get_collector(app).close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return get_collector(app).store


def collector_command() -> list[str]:
    script = Path(sys.executable).with_name("tracking-collector")
    if not script.exists():
        pytest.fail(f"console script {script} missing: pip install -e ./collector")
    return [str(script)]


class Server(ServerProcess):
    """``tracking-collector serve`` on a free loopback port, started and awaited."""

    def __init__(self, args: list[str], db: Path | str, log_path: Path):
        self.port = free_port()
        self.db = db
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(
                [str(COLLECTOR_DIR), os.environ.get("PYTHONPATH", "")]
            ),
        )
        super().__init__(
            [*collector_command(), "serve", "--host", "127.0.0.1", "--port",
             str(self.port), "--db", str(db), *args],
            log_path,
            env=env,
        )  # fmt: skip
        self.start(answers(self.url + "/healthz"), timeout=20)

    @property
    def proc(self):
        return self.process

    def stop(self, sig=signal.SIGTERM, timeout: float = 15.0) -> int:
        try:
            super().stop(sig, timeout)
        except subprocess.TimeoutExpired:
            pass  # killed by ServerProcess.stop
        return self.process.returncode


def located_live_args(geo_db: Path) -> list[str]:
    """``serve`` options of a test that reads its own reports back over HTTP: the
    test GeoLite2 database, loopback as trusted proxy, rollups refreshed within 0.2 s
    and no stats cache."""
    return [
        "--geoip", str(geo_db), "--trusted-proxy", TRUSTED_PROXY,
        "--refresh-interval", "0.2", "--stats-cache", "0",
    ]  # fmt: skip


@pytest.fixture
def start_server(tmp_path):
    servers: list[Server] = []

    def start(*args: str, db: Path | str | None = None) -> Server:
        server = Server(
            list(args),
            db or tmp_path / "server.sqlite",
            tmp_path / f"server-{len(servers)}.log",
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


GUNICORN = Path(sys.executable).with_name("gunicorn")


class Gunicorn(ServerProcess):
    """gunicorn with the shipped config on a free loopback port (a context manager).

    ``env`` adds to the environment (``TRACKING_COLLECTOR_*``, ...); two workers
    unless it says otherwise.
    """

    def __init__(self, tmp_path: Path, db: Path | str, readme: bool = False, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = dict(
            os.environ,
            PYTHONPATH=str(COLLECTOR_DIR),
            TRACKING_COLLECTOR_DB=str(db),
            TRACKING_COLLECTOR_BIND=f"127.0.0.1:{self.port}",
            TRACKING_COLLECTOR_WORKERS="2",
        )
        if readme:
            # Exactly the README's production command: its variables and nothing
            # else of ours (the runner's own PROMETHEUS_MULTIPROC_DIR neither).
            environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            environ.pop("TRACKING_COLLECTOR_WORKERS")
        environ.update(env)
        super().__init__(
            [str(GUNICORN), "-c", "python:tracking_collector.gunicorn_conf"],
            tmp_path / "gunicorn.log",
            env=environ,
        )

    @property
    def proc(self):
        return self.process

    def up(self) -> bool:
        assert self.process.poll() is None, self.log()
        return answers(self.url + "/healthz")()

    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process is not None:
            super().stop(sig, timeout)
        return self.process.returncode if self.process is not None else 0

    def __enter__(self) -> Gunicorn:
        # A loaded CI machine can take a while to boot two workers.
        self.start(answers(self.url + "/healthz"), timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
