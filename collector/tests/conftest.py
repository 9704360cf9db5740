"""Pytest setup of the collector's tests: fixtures (from testkit/), and the check
that the tested ``tracking_collector`` is the installed one when asked.

``make test-collector`` installs the built wheel into a fresh venv and runs these
tests with ``--installed-collector`` from the repository root, where the source
tree (``collector/``) is not on ``sys.path``: a module the wheel lacks then fails
the run instead of being found in the source tree.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit.fixtures import (  # noqa: F401 - fixtures are found by name
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

SOURCE_TREE = Path(__file__).resolve().parents[1] / "tracking_collector"


def pytest_addoption(parser):
    parser.addoption(
        "--installed-collector",
        action="store_true",
        help="the tests must run against an installed (non-editable) tracking_collector,"
        " as a user's venv has it: stop at once if it comes from the source tree",
    )


def pytest_report_header(config):
    import tracking_collector

    return f"tracking_collector: {Path(tracking_collector.__file__).parent}"


def pytest_sessionstart(session):
    if not session.config.getoption("--installed-collector"):
        return
    import tracking_collector

    package = Path(tracking_collector.__file__).resolve().parent
    if package == SOURCE_TREE:
        pytest.exit(
            f"tracking_collector is imported from the source tree ({package}), not from"
            " an installed wheel: run make test-collector",
            returncode=4,
        )
