"""Pytest fixtures of the collector's tests (conftest.py makes them visible)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tracking_collector import Config, create_app
from tracking_collector.runtime import get_collector

from .servers import Server
from .values import Clock, write_geo_db

CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))


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
