"""Fixtures of the compatibility matrix: each version's two recorded runs, made once."""

from __future__ import annotations

import pytest

from tests.compat import scenario


@pytest.fixture(scope="module", params=scenario.versions())
def version(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def python(version):
    return scenario.python_for(version)


@pytest.fixture(scope="module")
def template(python, tmp_path_factory):
    return scenario.make_basedir(python, tmp_path_factory.mktemp("compat") / "template")


@pytest.fixture(scope="module")
def ours(python, template, tmp_path_factory):
    return scenario.run_ours(python, template, tmp_path_factory.mktemp("ours") / "base")


@pytest.fixture(scope="module")
def baseline(python, template, tmp_path_factory):
    return scenario.run_baseline(
        python, template, tmp_path_factory.mktemp("baseline") / "base"
    )
