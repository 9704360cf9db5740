"""Export and history builders: data.octoprint.org shapes, small-group rule, schemas."""

from __future__ import annotations

from collections import Counter

import pytest
from testkit.schemas import SCHEMAS, check_schema, window

from tracking_collector import plugins
from tracking_collector.publish import exports, history
from tracking_collector.web.routes import load_openapi

NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z
MIN = 10


@pytest.mark.parametrize("stem", exports.NAMES)
def test_every_export_matches_its_published_schema(stem):
    document = exports.BUILDERS[stem](window(), MIN)
    check_schema(document, SCHEMAS[stem])
    assert document["_since"] == "2025-11-17T16:00:00Z"
    assert document["_generated"] == "2025-11-24T16:00:00Z"


def test_schemas_reject_an_exact_small_group():
    document = exports.instance_stats(window(), MIN)
    document["versions"]["1.9.3"] = 4
    # Shape-wise 4 is a count; the rule is the builder's, checked next.
    check_schema(document, "InstanceStatsExport")
    document["count"] = "120"
    with pytest.raises(AssertionError):
        check_schema(document, "InstanceStatsExport")


def test_instance_stats_has_count_versions_and_hourly_histogram():
    document = exports.instance_stats(window(), MIN)
    assert document["count"] == 120
    # Largest first (data.octoprint.org takes the first nine as its top list); the
    # two small versions are hidden, never exact.
    assert list(document["versions"].items()) == [
        ("1.11.8", 80),
        ("1.11.7", 30),
        ("1.10.3", "<10"),
        ("1.9.3", "<10"),
    ]
    assert document["histogram"][0] == {"start": "2025-11-24T13:00:00Z", "count": 97}
    assert document["histogram"][-1] == {"start": "2025-11-24T16:00:00Z", "count": "<10"}


def test_a_single_small_version_hides_the_next_smallest_too():
    counts = Counter({"1.11.8": 80, "1.11.7": 30, "1.9.3": 4})
    document = exports.instance_stats(window(breakdowns={"version": counts}), MIN)
    assert document["versions"] == {"1.11.8": 80, "1.11.7": "<10", "1.9.3": "<10"}


def test_a_small_fleet_shows_no_exact_number_anywhere():
    tiny = window(
        instances=7,
        hourly=[(NOW, 7)],
        breakdowns={k: Counter({"x": 5, "y": 2}) for k in exports.DIMENSIONS.values()},
        python_hourly=[(NOW, 0, 7)],
        plugins=Counter({"octolapse": 7}),
        plugin_versions={"octolapse": Counter({"0.4.5": 7})},
        plugin_installs=Counter({"octolapse": 30}),
        print_instances=3,
        print_histogram=[(NOW, 9000.0, 3)],
    )
    for stem in exports.NAMES:
        document = exports.BUILDERS[stem](tiny, MIN)
        numbers = list(_numbers(document))
        # The only exact figure left may be a zero (python 2 here): nobody.
        assert all(n == 0 for n in numbers), (stem, numbers)


def _numbers(value):
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if not key.startswith("_"):
                yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


def test_plugin_stats_in_plugins_octoprint_org_shape():
    plugins = exports.plugin_stats(window(), MIN)["plugins"]
    assert list(plugins) == ["octolapse", "rareplugin"]
    assert plugins["octolapse"] == {
        "instances": 40,
        "install_events": 12,
        "versions": {
            "0.4.5": {"instances": 30, "install_events": 11},
            "0.4.2": {"instances": "<10", "install_events": None},
            "0.4.1": {"instances": "<10", "install_events": None},
        },
    }
    # A plugin on too few instances: neither its users nor its installs are exact.
    assert plugins["rareplugin"]["instances"] == "<10"
    assert plugins["rareplugin"]["install_events"] is None


def test_printing_stats_total_histogram_and_success_rate():
    document = exports.printing_stats(window(), MIN)
    assert document["total"] == 123456
    assert document["outcomes"] == {
        "started": 100,
        "done": 80,
        "failed": 10,
        "cancelled": 10,
    }
    assert document["success_rate"] == 0.8
    # The day with three printers shows no print time.
    assert [h["count"] for h in document["histogram"]] == [None, 118456]


def test_environment_exports_wrap_instances_like_data_octoprint_org():
    server = exports.BUILDERS["server_environment_stats"](window(), MIN)
    assert server["cores"] == {
        "4": {"instances": 100},
        # One small group alone would be total minus the rest: 15 is hidden too.
        "2": {"instances": "<10"},
        "8": {"instances": "<10"},
    }
    rpi = exports.BUILDERS["rpi_stats"](window(), MIN)
    assert rpi["octopiuptodate_builds"] == {"2024.02.12": {"instances": 12}}
    client = exports.BUILDERS["client_environment_stats"](window(), MIN)
    assert client["browser_version"]["Chrome/131"] == {"instances": 60}
    python = exports.python_stats(window(), MIN)
    assert python["histogram"][-1] == {
        "start": "2025-11-24T16:00:00Z",
        "python2": "<10",
        "python3": 117,
    }


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("instance_stats_7d", ("instance_stats", 7)),
        ("plugin_stats_30d", ("plugin_stats", 30)),
        ("plugin_stats_14d", None),
        ("secrets_7d", None),
        ("instance_stats", None),
    ],
)
def test_export_names_are_a_closed_list(name, parsed):
    assert exports.parse_name(name) == parsed
    assert (name in exports.export_names()) == (parsed is not None)


def test_openapi_lists_every_export_name():
    spec = load_openapi()
    parameter = spec["paths"]["/export/{name}.json"]["get"]["parameters"][0]
    assert parameter["schema"]["enum"] == exports.export_names()


# History -------------------------------------------------------------------------

FIRST, LAST = history.day_range(NOW, 3)


def test_version_history_masks_each_day():
    daily = {
        "active": {FIRST: {"": 50}, FIRST + 1: {"": 8}, LAST: {"": 60}},
        "version": {
            FIRST: {"1.11.8": 40, "1.11.7": 10},
            FIRST + 1: {"1.11.8": 8},
            LAST: {"1.11.8": 45, "1.11.7": 12, "1.10.3": 3},
        },
    }
    document = history.versions(daily, FIRST, LAST, NOW, MIN)
    check_schema(document, "VersionHistory")
    assert [d["day"] for d in document["days"]] == [
        "2025-11-22",
        "2025-11-23",
        "2025-11-24",
    ]
    assert document["days"][0] == {
        "day": "2025-11-22",
        "instances": 50,
        "versions": {"1.11.8": 40, "1.11.7": 10},
    }
    assert document["days"][1]["instances"] == "<10"
    assert document["days"][2]["versions"] == {
        "1.11.8": 45,
        "1.11.7": "<10",
        "1.10.3": "<10",
    }


def test_plugin_history_shows_adoption_and_installs():
    daily = {
        "plugin": {FIRST: {"octolapse": 9}, FIRST + 1: {"octolapse": 20}},
        "plugin_installed": {FIRST + 1: {"octolapse": 11}, LAST: {"octolapse": 2}},
    }
    document = history.plugin(daily, "octolapse", FIRST, LAST, NOW, MIN)
    check_schema(document, "PluginHistory")
    assert document["plugin"] == "octolapse"
    assert [(d["instances"], d["install_events"]) for d in document["days"]] == [
        ("<10", None),
        (20, 11),
        ("<10", None),
    ]


def test_print_history_rates_per_day():
    daily = {
        "print_instances": {FIRST: {"1.11.8": 12}, LAST: {"1.11.8": 2}},
        "print_started": {FIRST: {"1.11.8": 30}},
        "print_done": {FIRST: {"1.11.8": 18}},
        "print_failed": {FIRST: {"1.11.8": 1}},
        "print_cancelled": {FIRST: {"1.11.8": 1}, LAST: {"1.11.8": 1}},
    }
    document = history.prints(daily, FIRST, LAST, NOW, MIN)
    check_schema(document, "PrintHistory")
    first, _, last = document["days"]
    assert first["done"] == 18 and first["done_rate"] == 0.9
    assert last["instances"] == "<10" and last["cancelled"] is None


@pytest.mark.parametrize(
    ("plugin_id", "valid"),
    [("octolapse", True), ("bed-level.vis_2", True), ("", False), ("a/b", False)],
)
def test_plugin_ids_are_checked(plugin_id, valid):
    assert plugins.valid_id(plugin_id) is valid
