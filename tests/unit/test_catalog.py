"""The catalog is the single source of truth: builders, README and settings follow it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from octoprint_tracking.core import catalog, model

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- catalog:begin -->", "<!-- catalog:end -->"

BUNDLED_REPORTS = {
    "ping", "pong", "startup", "shutdown", "print_started", "print_done", "print_failed",
    "print_cancelled", "commerror_<reason>", "printer_connected", "install_plugin",
    "uninstall_plugin", "enable_plugin", "disable_plugin", "update_successful",
    "update_failed", "system_throttled", "system_unthrottled", "printer_safety_warning",
    "achievement_unlocked", "slicing_started", "webui_load",
}  # fmt: skip


def test_catalog_declares_every_report_of_the_bundled_plugin():
    assert BUNDLED_REPORTS <= {r.name for r in catalog.REPORTS}


def test_every_report_category_is_a_declared_switch():
    keys = set(catalog.CATEGORY_KEYS)
    for report in catalog.REPORTS:
        assert report.category is None or report.category in keys, report.name
        for field in report.fields:
            assert field.category is None or field.category in keys, field.name


def test_every_field_has_a_one_line_meaning_and_a_valid_consent_version():
    for report in catalog.REPORTS:
        for field in report.fields + catalog.COMMON_FIELDS:
            assert field.meaning and "\n" not in field.meaning
            assert 1 <= field.since <= catalog.CONSENT_VERSION


def test_check_fields_rejects_an_undeclared_field():
    with pytest.raises(ValueError, match="undeclared fields: filename"):
        catalog.check_fields("print_done", ["origin", "filename"])


def test_check_fields_rejects_an_unknown_report():
    with pytest.raises(ValueError, match="not in the catalog"):
        catalog.check_fields("print_exploded", [])


def test_commerror_family_resolves_to_one_entry():
    assert catalog.spec("commerror_timeout") is catalog.spec("commerror_<reason>")


def test_each_switch_lists_what_it_controls():
    sections = {key: entries for key, _t, _s, entries in catalog.by_category()}
    assert ("pong", catalog.spec("pong").field("achievements")) in sections[
        "achievements"
    ]
    assert all(f.category == "statistics" for _r, f in sections["statistics"])
    assert {r for r, _f in sections[None]} == {"ping"}


def test_readme_table_is_generated_from_the_catalog():
    text = README.read_text(encoding="utf-8")
    table = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip() + "\n"
    assert table == catalog.markdown_table(), (
        "README.md is stale: run `python -m octoprint_tracking.readme` to regenerate"
    )


def test_sample_values_are_declared_fields():
    # The preview uses the examples; they must pass the same check as real reports.
    for spec in catalog.REPORTS:
        name = spec.name.replace("<reason>", "timeout")
        report = model.make(name, **{f.name: f.example for f in spec.fields})
        catalog.check_fields(report.name, report.fields)


def test_report_names_are_valid_on_the_wire():
    for spec in catalog.REPORTS:
        assert re.fullmatch(r"[a-z0-9_]{1,64}", spec.name.replace("<reason>", "x"))
