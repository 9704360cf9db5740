"""Schema-driven fuzzing: schemathesis generates requests from the shipped OpenAPI.

Checks that every generated request gets a documented status, content type and body
shape, that schema-valid reports are accepted, and that nothing answers 5xx.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
import schemathesis  # noqa: E402  (a required test dependency, never skipped)
from hypothesis import HealthCheck, settings  # noqa: E402

from tracking_collector import Config, create_app  # noqa: E402
from tracking_collector.runtime import get_collector  # noqa: E402

# Built at import: schemathesis needs the schema to generate the parametrized cases
# (its from_fixture helper does not work with this pytest version).
_DB_DIR = tempfile.mkdtemp(prefix="collector-schemathesis-")
APP = create_app(Config(db=os.path.join(_DB_DIR, "api.sqlite")), background_purge=False)
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    get_collector(APP).close()
    shutil.rmtree(_DB_DIR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_openapi_and_never_errors(case):
    response = case.call()
    assert response.status_code < 500
    # The schema is deliberately stricter than the server in places (value length in
    # characters vs bytes), so "schema-invalid but accepted" is not a failure here.
    case.validate_response(
        response, excluded_checks=[schemathesis.checks.negative_data_rejection]
    )
