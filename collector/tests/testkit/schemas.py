"""The JSON Schemas the collector publishes (in its OpenAPI document), and a
``Window`` of known figures to build exports from."""

from __future__ import annotations

from collections import Counter

import jsonschema_rs

from tracking_collector.publish import exports
from tracking_collector.web.routes import load_openapi

NOW = 1_764_000_000.0  # 2025-11-24T16:00:00Z

SCHEMAS = {
    "instance_stats": "InstanceStatsExport",
    "plugin_stats": "PluginStatsExport",
    "printing_stats": "PrintingStatsExport",
    "python_stats": "PythonStatsExport",
    "server_environment_stats": "ServerEnvironmentStatsExport",
    "client_environment_stats": "ClientEnvironmentStatsExport",
    "rpi_stats": "RpiStatsExport",
    "firmware_stats": "FirmwareStatsExport",
}


def check_schema(document: dict, name: str) -> None:
    """Validate against the schema the OpenAPI document publishes (one source)."""
    root = {"$ref": f"#/components/schemas/{name}", **load_openapi()}
    errors = [str(e) for e in jsonschema_rs.validator_for(root).iter_errors(document)]
    assert not errors, errors


def window(**kwargs) -> exports.Window:
    base = dict(
        days=7,
        since=NOW - 7 * 86400,
        generated=NOW,
        instances=120,
        hourly=[(NOW - 3600 * h, 100 - h) for h in range(3, 0, -1)] + [(NOW, 4)],
        breakdowns={
            "version": Counter({"1.11.8": 80, "1.11.7": 30, "1.10.3": 6, "1.9.3": 4}),
            "python": Counter({"3.11.2": 100, "3.7.3": 20}),
            "os": Counter({"linux": 110, "windows": 10}),
            "bits": Counter({"64": 100, "32": 20}),
            "cores": Counter({"4": 100, "2": 15, "8": 5}),
            "pi_model": Counter({"Raspberry Pi 4 Model B Rev 1.4": 70}),
            "octopi_version": Counter({"1.0.0": 60, "0.18.0": 10}),
            "octopiuptodate_build": Counter({"2024.02.12": 12}),
            "firmware": Counter({"Marlin 2.1.2": 50, "Klipper": 40, "Odd FW": 2}),
            "browser": Counter({"Chrome": 60, "Firefox": 20}),
            "browser_version": Counter({"Chrome/131": 60, "Firefox/133": 20}),
            "client_os": Counter({"Windows": 50, "Linux": 30}),
        },
        python_hourly=[(NOW - 86400, 0, 120), (NOW, 3, 117)],
        plugins=Counter({"octolapse": 40, "rareplugin": 3}),
        plugin_versions={
            "octolapse": Counter({"0.4.5": 30, "0.4.2": 8, "0.4.1": 2}),
            "rareplugin": Counter({"1.0": 3}),
        },
        plugin_installs=Counter({"octolapse": 12, "rareplugin": 2}),
        plugin_version_installs={"octolapse": Counter({"0.4.5": 11, "0.4.2": 1})},
        print_instances=25,
        prints=Counter(started=100, done=80, failed=10, cancelled=10),
        print_seconds=123456.4,
        print_histogram=[(NOW - 86400, 5000.0, 3), (NOW, 118456.4, 24)],
    )
    base.update(kwargs)
    return exports.Window(**base)
