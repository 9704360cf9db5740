"""Plausibility rules: impossible environments are flagged, real ones never are."""

from __future__ import annotations

import pytest

from tracking_collector.trust import plausibility as p

UA = "OctoPrint/{} UsageTracking/0.1.0"


def sample(ua_version: str | None = None, age: float = 0.0, **fields) -> p.Sample:
    return p.Sample(
        fields=fields, user_agent=UA.format(ua_version) if ua_version else None, age=age
    )


# Real combinations, one per OctoPrint generation (PyPI requires_python).
REAL = [
    ("1.3.12", "2.7.16"),
    ("1.4.0", "2.7.13"),
    ("1.5.3", "3.7.3"),
    ("1.7.3", "2.7.18"),
    ("1.7.3", "3.6.9"),
    ("1.8.0", "3.7.3"),
    ("1.9.3", "3.11.2"),
    ("1.10.3", "3.9.2"),
    ("1.11.8", "3.13.1"),
    ("1.11.0.dev42+g1234abc", "3.12.3"),
    ("2.0.0rc3", "3.9.2"),
    ("2.0.0", "3.14.0"),
    # An upper bound is "not tested yet", not "cannot run": an old venv kept across
    # a distribution upgrade runs on the newer Python.
    ("1.9.3", "3.13.0"),
]


@pytest.mark.parametrize("version,python", REAL)
def test_real_python_and_octoprint_pairs_pass(version, python):
    assert not p.python_unsupported(sample(version=version, python=python))


IMPOSSIBLE = [
    ("1.8.0", "2.7.18"),
    ("1.11.8", "2.7.18"),
    ("2.0.0", "2.7.18"),
    ("1.3.12", "3.7.3"),
    ("1.4.0", "3.5.3"),
    ("1.8.7", "3.6.9"),
    ("2.0.0", "3.8.10"),
    ("1.11.8", "4.0.0"),
]


@pytest.mark.parametrize("version,python", IMPOSSIBLE)
def test_python_the_octoprint_version_cannot_run_on_is_flagged(version, python):
    assert p.python_unsupported(sample(version=version, python=python))


def test_python_rule_uses_the_user_agent_version_when_the_field_is_missing():
    assert p.python_unsupported(sample("1.10.0", python="2.7.18"))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"version": "1.11.8"},
        {"python": "2.7.18"},
        {"version": "0+unknown", "python": "3.11"},
        {"version": "0.0.0", "python": "3.11.2"},
        {"version": "1.9.0", "python": "garbage"},
    ],
)
def test_python_rule_says_nothing_without_both_versions(fields):
    assert not p.python_unsupported(p.Sample(fields=fields))


def test_version_field_that_disagrees_with_the_user_agent_is_flagged():
    assert p.version_mismatch(sample("1.11.8", version="1.8.0"))


def test_version_field_matching_the_user_agent_passes():
    assert not p.version_mismatch(sample("1.11.8", version="1.11.8"))
    assert not p.version_mismatch(sample("2.0.0RC1", version="2.0.0rc1"))


def test_spooled_report_from_before_an_update_may_carry_the_old_version():
    assert not p.version_mismatch(sample("1.11.8", age=3 * 3600, version="1.10.3"))


def test_version_rule_needs_both_versions():
    assert not p.version_mismatch(sample(None, version="1.11.8"))
    assert not p.version_mismatch(sample("1.11.8"))


@pytest.mark.parametrize(
    "plugins",
    [
        "",
        "bedlevelvisualizer:1.1.1",
        "octolapse:0.4.5,printtimegenius:2.3.3,themeify:?",
        "Octo-Plugin.x:1.0+local,firmware_updater:1!2.0",
    ],
)
def test_well_formed_plugin_lists_pass(plugins):
    assert not p.malformed_plugins(sample(plugins=plugins))


@pytest.mark.parametrize(
    "plugins",
    [
        "octolapse",
        "octolapse:",
        ":1.0",
        "octolapse:1.0,,themeify:1.0",
        "octo lapse:1.0",
        "../etc:1.0",
        "<script>:1",
        "octolapse:1.0,octolapse:1.1",
        "OctoLapse:1.0,octolapse:1.1",
        "a" * 65 + ":1.0",
    ],
)
def test_malformed_plugin_lists_are_flagged(plugins):
    assert p.malformed_plugins(sample(plugins=plugins))


def test_octopi_on_another_os_is_flagged_but_not_on_linux():
    assert p.octopi_not_linux(sample(octopi_version="1.0.0", os="windows"))
    assert not p.octopi_not_linux(sample(octopi_version="1.0.0", os="linux"))
    assert not p.octopi_not_linux(sample(os="windows"))


def test_violations_lists_every_broken_rule_in_rule_order():
    broken = sample(
        "1.11.8",
        version="1.8.0",
        python="2.7.18",
        plugins="x:1,x:2",
        octopi_version="0.18.0",
        os="macos",
    )
    assert p.violations(broken) == [
        "python_version",
        "version_mismatch",
        "plugin_ids",
        "octopi_os",
    ]


def test_a_real_report_breaks_no_rule():
    real = sample(
        "1.11.8",
        version="1.11.8",
        python="3.11.2",
        os="linux",
        octopi_version="1.0.0",
        plugins="octolapse:0.4.5,bedlevelvisualizer:1.1.1",
    )
    assert p.violations(real) == []


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1.11.8", (1, 11)),
        ("v2.0.0rc1", (2, 0)),
        ("3", None),
        (None, None),
        ("x1.2", None),
    ],
)
def test_release_reads_major_and_minor(text, expected):
    assert p.release(text) == expected


def test_version_mismatch_is_judged_on_the_first_report_only():
    mismatch = sample("1.11.8", version="1.10.3")
    assert p.violations(mismatch) == ["version_mismatch"]
    assert p.violations(mismatch, first_report=False) == []
