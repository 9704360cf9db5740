"""The JSON Schemas the collector publishes (in its OpenAPI document), and rollups of
known figures to build the public documents from (``known_counts``)."""

from __future__ import annotations

import jsonschema_rs

from tracking_collector.publish import figures
from tracking_collector.timefmt import day_of
from tracking_collector.web.routes import load_openapi

NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z
TODAY = day_of(NOW)

SCHEMAS = {
    "instance_stats": "InstanceStatsExport",
    "plugin_stats": "PluginStatsExport",
    "printing_stats": "PrintingStatsExport",
    "python_stats": "PythonStatsExport",
    "server_environment_stats": "ServerEnvironmentStatsExport",
    "client_environment_stats": "ClientEnvironmentStatsExport",
    "rpi_stats": "RpiStatsExport",
    "firmware_stats": "FirmwareStatsExport",
    "achievements_stats": "AchievementsStatsExport",
}


def check_schema(document: dict, name: str) -> None:
    """Validate against the schema the OpenAPI document publishes (one source)."""
    root = {"$ref": f"#/components/schemas/{name}", **load_openapi()}
    errors = [str(e) for e in jsonschema_rs.validator_for(root).iter_errors(document)]
    assert not errors, errors


# A window rollup of 120 instances, as Store.window gives it ("unknown": without a
# value). Small groups on purpose: 1.9.3 (4), 32-bit (3), rareplugin (3), ...
WINDOW = {
    "active": {"": 120},
    "version": {"1.11.8": 80, "1.11.7": 30, "1.10.3": 6, "1.9.3": 4},
    "python": {"3.11.2": 100, "3.7.3": 20},
    "os": {"linux": 105, "windows": 10, "unmapped": 5},
    "bits": {"64": 59, "32": 3, "unknown": 58},
    "cores": {"4": 100, "2": 15, "8": 5},
    "pi_model": {"Raspberry Pi 4 Model B Rev 1.4": 70, "unknown": 50},
    "octopi": {"1.0.0": 60, "0.18.0": 10, "unknown": 50},
    "octopiuptodate_build": {"2024.02.12": 12, "unknown": 108},
    "firmware": {"Marlin 2.1.2": 50, "Klipper": 40, "Odd FW": 2, "unknown": 28},
    "browser": {"Chrome": 60, "Firefox": 20, "unknown": 40},
    "browser_version": {"Chrome/131": 55, "Chrome/unknown": 5, "Firefox/133": 20},
    "client_os": {"Windows": 50, "Linux": 30, "unknown": 40},
    "country": {"DE": 70, "FR": 30, "JP": 2, "unknown": 18},
    "plugin": {"octolapse": 40, "themeify": 25, "rareplugin": 3},
    "plugin_version": {
        "octolapse:0.4.5": 30,
        "octolapse:0.4.2": 8,
        "octolapse:0.4.1": 2,
        "themeify:1.2.2": 25,
        "rareplugin:1.0": 3,
    },
    "plugin_installers": {"octolapse": 12, "themeify": 20, "rareplugin": 2},
    "plugin_uninstallers": {"octolapse": 11},
    "achievements": {"": 100},
    "achievement": {"the_wizard": 95, "adventurer": 40, "night_owl": 12, "marathon": 3},
    "print_instances": {"1.11.8": 20, "1.11.7": 5},
}


def _hours(day: int, values: dict[int, int]) -> dict[int, dict[str, int]]:
    return {day: {str(h): n for h, n in values.items()}}


# Daily rollups: today's hours 13-16 (16 is the partial current hour), print
# outcomes on three days; one day (yesterday) with too few printers.
DAILY = {
    "hour": _hours(TODAY, {13: 97, 14: 98, 15: 99, 16: 4}),
    "python3_hour": _hours(TODAY, {13: 97, 14: 90, 15: 99, 16: 4}),
    "python2_hour": {},
    "print_hour_seconds": _hours(TODAY, {13: 36000, 14: 5000, 15: 0}),
    "print_hour_instances": _hours(TODAY, {13: 12, 14: 3, 15: 0}),
    "print_finishers": {TODAY: {"": 14}},
    "print_instances": {
        TODAY - 2: {"1.11.8": 15},
        TODAY - 1: {"1.11.8": 3},
        TODAY: {"1.11.8": 11, "1.11.7": 1},
    },
    "print_started": {TODAY - 2: {"1.11.8": 20}, TODAY - 1: {"1.11.8": 3}},
    "print_done": {
        TODAY - 2: {"1.11.8": 16},
        TODAY - 1: {"1.11.8": 2},
        TODAY: {"1.11.8": 10, "1.11.7": 1},
    },
    "print_failed": {TODAY - 2: {"1.11.8": 2}, TODAY: {"1.11.8": 1}},
    "print_cancelled": {TODAY - 2: {"1.11.8": 2}, TODAY - 1: {"1.11.8": 1}},
}


def known_counts(window: dict | None = None, daily: dict | None = None) -> figures.Counts:
    """Rollups of known figures (``window``/``daily`` replace metrics), the same
    window rollup for 1, 7 and 30 days."""
    rollup = {**WINDOW, **(window or {})}
    return figures.Counts(
        now=NOW,
        windows={w: rollup for w in figures.WINDOWS},
        daily={**DAILY, **(daily or {})},
        first_day=TODAY - 89,
    )


def known_figures(min_group: int = 10, **replace) -> figures.Figures:
    return figures.build(known_counts(**replace), min_group)
