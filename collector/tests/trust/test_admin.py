"""Operator view of held cohorts: rows, CLI text, admin page and its token."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest

from tracking_collector.trust import admin


@dataclass
class Cohort:
    cohort: str
    instances: int
    first_seen: float
    last_seen: float
    reasons: dict
    plugins: dict


T = 1_700_000_000.0
COHORTS = [
    Cohort(
        "a1b2c3d4e5f60718",
        900,
        T,
        T + 3600,
        {"source_burst": 850, "implausible:python_version": 50},
        {"acme_cloudprint": 900, "octolapse": 300, "<b>x": 1},
    )
]


def test_rows_carry_cohort_count_times_reasons_and_top_plugins():
    (row,) = admin.cohort_rows(COHORTS)
    assert row["cohort"] == "a1b2c3d4e5f60718"
    assert row["instances"] == 900
    assert row["first_seen"] == "2023-11-14 22:13"
    assert row["reasons"] == {"implausible:python_version": 50, "source_burst": 850}
    assert row["plugins"][0] == ["acme_cloudprint", 900]


def test_text_table_names_each_cohort_with_reasons_and_plugins():
    text = admin.text_table(admin.cohort_rows(COHORTS))
    assert "a1b2c3d4e5f60718  900 instances" in text
    assert "source_burst 850" in text and "acme_cloudprint 900" in text
    assert admin.text_table([]) == "no held cohorts"


def test_page_escapes_what_clients_sent():
    page = admin.render_page(admin.cohort_rows(COHORTS))
    assert "&lt;b&gt;x" in page and "<b>x" not in page
    assert "acme_cloudprint" in page


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()


@pytest.mark.parametrize(
    "header,ok",
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),
        (basic("s3cret"), True),
        ("Bearer wrong", False),
        (basic("wrong"), False),
        ("Basic !!!", False),
        ("Token s3cret", False),
        ("", False),
        (None, False),
    ],
)
def test_token_check(header, ok):
    assert admin.authorized("s3cret", header) is ok


def test_without_a_configured_token_nothing_is_authorized():
    assert not admin.authorized(None, "Bearer ")
    assert not admin.authorized("", "Bearer ")
