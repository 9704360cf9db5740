"""Pytest fixtures for the collector tests; helpers live in collector_testkit."""

from collector_testkit import (  # noqa: F401 - fixtures are found by name
    app,
    client,
    clock,
    db_path,
    geo_db,
    make_app,
    start_server,
    store,
)
