"""Pytest fixtures for the collector tests; helpers live in collector_testkit."""

from collector_testkit import (  # noqa: F401 - fixtures are found by name
    app,
    backend,
    client,
    clock,
    db,
    db_path,
    geo_db,
    make_app,
    pg_cluster,
    start_server,
    store,
)
