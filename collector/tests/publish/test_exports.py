"""Export and history builders: data.octoprint.org shapes, numbers only, folded maps."""

from __future__ import annotations

import pytest
from testkit.readers import check, is_number, leaves
from testkit.schemas import NOW, SCHEMAS, TODAY, check_schema, known_figures

from tracking_collector import plugins
from tracking_collector.publish import exports, history, plugin_page
from tracking_collector.web.routes import load_openapi

MIN = 10


def week(**replace):
    return known_figures(MIN, **replace).window(7)


@pytest.mark.parametrize("stem", exports.NAMES)
def test_every_export_matches_its_published_schema_and_reads_as_numbers(stem):
    document = exports.BUILDERS[stem](week())
    check_schema(document, SCHEMAS[stem])
    assert document["_since"] == "2025-11-17T16:00:00Z"
    assert document["_generated"] == "2025-11-24T16:00:00Z"
    assert check(stem, document) == []
    assert all(is_number(v) for v in leaves(document))


def test_schemas_reject_strings_where_readers_compute():
    document = exports.instance_stats(week())
    document["versions"]["1.9.3"] = "<10"
    with pytest.raises(AssertionError):
        check_schema(document, "InstanceStatsExport")
    document = exports.instance_stats(week())
    document["versions"]["unknown"] = 12  # a remainder inside the map
    with pytest.raises(AssertionError):
        check_schema(document, "InstanceStatsExport")
    document = exports.BUILDERS["server_environment_stats"](week())
    document["os"]["unmapped"] = {"instances": 12}  # "undefined" on the site
    with pytest.raises(AssertionError):
        check_schema(document, "ServerEnvironmentStatsExport")


def test_instance_stats_has_count_folded_versions_and_hourly_histogram():
    document = exports.instance_stats(week())
    assert document["count"] == 120
    # Largest first (data.octoprint.org takes the first nine as its top list); the
    # two small versions (6 and 4) are folded into the remainder, never named.
    assert list(document["versions"].items()) == [("1.11.8", 80), ("1.11.7", 30)]
    assert (document["versions_other"], document["versions_unknown"]) == (10, 0)
    hours = document["histogram"]
    assert len(hours) == 7 * 24 + 1  # the partial first and last hours included
    assert hours[-4:] == [
        {"start": "2025-11-24T13:00:00Z", "count": 97},
        {"start": "2025-11-24T14:00:00Z", "count": 98},
        {"start": "2025-11-24T15:00:00Z", "count": 99},
        # 4 instances: the entry stays, its count is left out.
        {"start": "2025-11-24T16:00:00Z"},
    ]
    assert hours[0] == {"start": "2025-11-17T16:00:00Z", "count": 0}


def test_a_big_group_is_no_longer_hidden_beside_a_small_one():
    # The example: 64-bit with 59 instances beside 32-bit with 3.
    server = exports.BUILDERS["server_environment_stats"](week())
    assert server["bits"] == {"64": {"instances": 59}}
    # 3 (32-bit) plus the unknown (58, which no reader reads) fold together.
    assert server["bits_other"] == {"instances": 61}
    assert "bits_unknown" not in server


def test_os_map_holds_only_what_the_sites_lookup_knows():
    server = exports.BUILDERS["server_environment_stats"](week())
    # "unmapped" (5) is counted in the remainder, and with it windows (10): a
    # remainder of 5 alone would single those 5 out.
    assert server["os"] == {"linux": {"instances": 105}}
    assert server["os_other"] == {"instances": 15}
    assert server["os_unknown"] == {"instances": 0}


def test_a_small_fleet_publishes_no_exact_small_number_anywhere():
    tiny = {k: {"x": 5, "y": 2} for k in ("version", "python", "os", "firmware")}
    tiny.update(
        active={"": 7},
        plugin={"octolapse": 7},
        plugin_version={"octolapse:0.4.5": 7},
        plugin_installers={"octolapse": 7},
        achievements={"": 7},
        achievement={"the_wizard": 7},
        print_instances={"1.11.8": 3},
    )
    small = {"hour": {TODAY: {"15": 7}}, "print_instances": {TODAY: {"1.11.8": 3}}}
    small.update(print_finishers={TODAY: {"": 3}}, print_hour_instances={})
    window = known_figures(MIN, window=tiny, daily=small).window(7)
    for stem in exports.NAMES:
        document = exports.BUILDERS[stem](window)
        numbers = [n for n in leaves(document) if n]
        assert all(n >= MIN for n in numbers), (stem, numbers)
        assert "x" not in document.get("versions", {})


def test_plugin_stats_in_plugins_octoprint_org_shape():
    document = exports.plugin_stats(week())
    # rareplugin (3 instances) is not named; its 3 alone would be a small
    # remainder, so themeify, the smallest shown plugin, joins it.
    assert list(document["plugins"]) == ["octolapse"]
    assert document["plugins_other"] == {"instances": 28}
    assert document["plugins"]["octolapse"] == {
        "instances": 40,
        "install_events": 12,
        "uninstall_events": 11,
        # 0.4.2 (8) and 0.4.1 (2) are folded per plugin.
        "versions": {"0.4.5": {"instances": 30}},
        "versions_other": {"instances": 10},
        "versions_unknown": {"instances": 0},
    }


def test_install_events_are_distinct_instances_shown_only_for_enough_of_them():
    # 35 of octolapse's 40 users installed it: the 5 who did not would show.
    document = exports.plugin_stats(week(window={"plugin_installers": {"octolapse": 35}}))
    assert "install_events" not in document["plugins"]["octolapse"]
    document = exports.plugin_stats(week(window={"plugin_installers": {"octolapse": 9}}))
    assert "install_events" not in document["plugins"]["octolapse"]


def test_printing_stats_total_hourly_histogram_and_success_rate():
    document = exports.printing_stats(week())
    assert document["total"] == 41000
    assert document["instances"] == 25
    assert document["outcomes"] == {
        "started": 23,
        "done": 29,
        "failed": 3,
        "cancelled": 3,
    }
    assert document["success_rate"] == round(29 / 35, 4)
    hours = {h["start"][11:13]: h.get("count") for h in document["histogram"][-5:]}
    # Hour 14 had 3 printers: hidden. Hour 13 (12 printers) is hidden too: with
    # the total published, 13 + 14 = total - the rest, and only together do they
    # stand for enough instances (14 finished a print that day).
    assert hours == {"12": 0, "13": None, "14": None, "15": 0, "16": 0}


def test_a_print_total_of_too_few_printers_is_left_out():
    few = {
        "print_hour_seconds": {TODAY: {"13": 3600}},
        "print_hour_instances": {TODAY: {"13": 2}},
        "print_finishers": {TODAY: {"": 2}},
    }
    document = exports.printing_stats(week(daily=few))
    assert "total" not in document
    assert all(h.get("count", 0) == 0 for h in document["histogram"])


def test_python_histogram_is_hourly_and_a_partition_of_each_hour():
    python = exports.python_stats(week())
    assert python["histogram"][-4:] == [
        {"start": "2025-11-24T13:00:00Z", "python2": 0, "python3": 97},
        # 98 active, 90 on Python 3: the other 8 would be 98 - 90, so Python 3 is
        # folded; Python 2 had nobody.
        {"start": "2025-11-24T14:00:00Z", "python2": 0},
        {"start": "2025-11-24T15:00:00Z", "python2": 0, "python3": 99},
        {"start": "2025-11-24T16:00:00Z"},
    ]


def test_client_browser_versions_fold_within_their_browser():
    client = exports.BUILDERS["client_environment_stats"](week())
    assert client["browser"] == {
        "Chrome": {"instances": 60},
        "Firefox": {"instances": 20},
    }
    # Chrome/131 (55) beside 5 Chrome instances without a version: folded, or
    # Chrome's 60 - 55 would show those 5.
    assert client["browser_version"] == {"Firefox/133": {"instances": 20}}
    assert client["browser_version_other"] == {"instances": 60}
    assert client["browser_version_unknown"] == {"instances": 40}


def test_achievements_stats_in_the_newer_sites_shape():
    document = exports.achievements_stats(week())
    assert document["instances"] == 100
    # the_wizard (95 of 100) is folded: the 5 without it would show; marathon (3)
    # is small; night_owl joins them so that the remainder says nothing of either.
    assert document["unlocked"] == {"adventurer": 40}
    assert document["unlocked_other"] == 110


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("instance_stats_7d", ("instance_stats", 7)),
        ("plugin_stats_30d", ("plugin_stats", 30)),
        ("achievements_stats_7d", ("achievements_stats", 7)),
        ("achievement_stats_30d", ("achievements_stats", 30)),
        ("plugin_stats_14d", None),
        ("secrets_7d", None),
        ("instance_stats", None),
    ],
)
def test_export_names_are_a_closed_list(name, parsed):
    assert exports.parse_name(name) == parsed
    assert (name in exports.export_names(aliases=True)) == (parsed is not None)


def test_openapi_lists_every_export_name_and_the_canonical_ones_apart():
    spec = load_openapi()
    parameter = spec["paths"]["/export/{name}.json"]["get"]["parameters"][0]
    assert parameter["schema"]["enum"] == exports.export_names(aliases=True)
    assert "achievement_stats_7d" not in exports.export_names()


# History -------------------------------------------------------------------------

FIRST, LAST = history.day_range(NOW, 3)


def test_version_history_folds_each_day():
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
        "versions_other": 0,
        "versions_unknown": 0,
    }
    assert document["days"][1] == {"day": "2025-11-23", "versions": {}}
    # 3 on 1.10.3 alone would show; with 1.11.7 (12) they make a remainder of 15.
    assert document["days"][2]["versions"] == {"1.11.8": 45}
    assert document["days"][2]["versions_other"] == 15


def test_plugin_history_shows_adoption_and_installing_instances():
    daily = {
        "active": {FIRST: {"": 30}, FIRST + 1: {"": 40}, LAST: {"": 40}},
        "plugin": {FIRST: {"octolapse": 9}, FIRST + 1: {"octolapse": 20}},
        "plugin_installers": {FIRST + 1: {"octolapse": 10}, LAST: {"octolapse": 2}},
    }
    days = plugin_page.fold_days(daily, NOW, FIRST, frozenset(), MIN)
    merged = plugin_page.entries(days, "octolapse", {}, FIRST)
    document = history.plugin(merged, "octolapse", FIRST, NOW)
    check_schema(document, "PluginHistory")
    assert document["plugin"] == "octolapse"
    assert document["days"] == [
        {"day": "2025-11-22"},
        {"day": "2025-11-23", "instances": 20, "install_events": 10},
        {"day": "2025-11-24"},
    ]


def test_print_history_shows_the_days_the_figures_fold():
    figures = known_figures(MIN)
    document = history.prints(figures, LAST - 2, NOW)
    check_schema(document, "PrintHistory")
    first, hidden, last = document["days"]
    assert first["done"] == 16 and first["done_rate"] == 0.8
    assert hidden == {"day": "2025-11-23"}  # 3 printers
    # 12 printers, but shown, today's outcomes and the 7-day total would give
    # the day of 3 away: folded too.
    assert last == {"day": "2025-11-24", "instances": 12}


@pytest.mark.parametrize(
    ("plugin_id", "valid"),
    [
        ("octolapse", True),
        ("bed-level.vis_2", True),
        ("", False),
        ("a/b", False),
        ("OctoLapse", False),
        ("-x", False),
        ("x" * 65, False),
    ],
)
def test_plugin_ids_are_checked(plugin_id, valid):
    assert plugins.valid_id(plugin_id) is valid


def test_every_plugin_id_the_store_keeps_can_be_asked_about():
    """One id rule (plugins.ID_PATTERN) for the kept list, the plausibility check
    and the URLs: an id that could not have a page is not kept (review nit 16)."""
    kept = plugins.entries("OctoLapse:1,a/b:2,-x:3, themeify :4,x y:5,é:6")
    assert kept == [("octolapse", "1"), ("themeify", "4")]
    assert all(plugins.valid_id(p) for p, _ in kept)


def test_a_day_without_instances_shows_0_in_the_version_history_as_in_the_exports():
    """One publish rule for a single count (smallgroup.shown_count): none is
    shown as 0, a group below the minimum is left out."""
    daily = {"active": {FIRST: {"": MIN - 1}, LAST: {"": MIN}}}
    days = history.versions(daily, FIRST, LAST, NOW, MIN)["days"]
    assert "instances" not in days[0]
    assert days[1]["instances"] == 0
    assert days[2]["instances"] == MIN
