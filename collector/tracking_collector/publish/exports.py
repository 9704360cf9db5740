"""Public exports with data.octoprint.org's file names and shapes, from the figures.

OctoPrint's maintainer publishes ``/export/<name>_{7,30}d.json``; the charts at
data.octoprint.org (``src/util/data.js``, ``src/components/*``),
plugins.octoprint.org and shields.io badges read them. Each builder is a pure view
of one window's :class:`~.figures.WindowFigures`: every map is already folded
under the small-group rule (:mod:`.smallgroup`), so a document holds numbers only.
A folded group is counted in ``<field>_other`` beside its map, instances without
a value in ``<field>_unknown`` (never inside a map the site iterates: its OS
lookup shows any unknown key as "undefined"); a hidden histogram value's key is
left out, its entry kept; a hidden total is left out. Each document carries
``_since`` and ``_generated`` (ISO 8601, UTC), which data.octoprint.org shows as
"based on usage data from ... until ...".
"""

from __future__ import annotations

from typing import Any, Callable

from ..timefmt import iso
from .figures import SERIES_WINDOWS, WindowFigures

PERIODS = SERIES_WINDOWS

# data.octoprint.org's file name stems (achievements_stats: its newer version's
# AchievementStats card); the OpenAPI document lists the same names.
NAMES = (
    "instance_stats",
    "plugin_stats",
    "printing_stats",
    "python_stats",
    "server_environment_stats",
    "client_environment_stats",
    "rpi_stats",
    "firmware_stats",
    "achievements_stats",
)
# Other spellings served with the same document (the "achievement_stats");
# only the canonical name is listed as a file of its own (archives, indexes).
ALIASES = {"achievement_stats": "achievements_stats"}


def _envelope(window: WindowFigures, body: dict[str, Any]) -> dict[str, Any]:
    return {"_since": iso(window.since), "_generated": iso(window.generated), **body}


def _present(**values: Any) -> dict[str, Any]:
    """The keys whose value is published (not None)."""
    return {k: v for k, v in values.items() if v is not None}


def instance_stats(window: WindowFigures) -> dict[str, Any]:
    return _envelope(
        window,
        {
            **_present(count=window.instances),
            **window.maps["version"].fields("versions"),
            # Unique instances per UTC hour, the partial first and last hours
            # included (the site drops them).
            "histogram": [
                {"start": iso(h.start), **_present(count=h.instances)}
                for h in window.hours
            ],
        },
    )


def plugin_entry(window: WindowFigures, plugin: str) -> dict[str, Any] | None:
    """``plugin``'s entry of the window's ``plugin_stats`` (what plugin pages and
    badges show of it); None when the window does not show the plugin."""
    assert window.plugins is not None
    instances = window.plugins.parent.visible.get(plugin)
    if instances is None:
        return None
    versions = window.plugins.children[plugin]
    return {
        "instances": instances,
        **_present(
            install_events=window.installers.get(plugin),
            uninstall_events=window.uninstallers.get(plugin),
        ),
        **versions.fields("versions", wrap=True),
    }


def plugin_stats(window: WindowFigures) -> dict[str, Any]:
    """plugins.octoprint.org reads ``plugins[id].instances``, ``.install_events``
    and ``.versions[v].instances`` (an absent plugin reads as 0); shields.io
    badges ``$.plugins.<id>.instances``."""
    assert window.plugins is not None
    parent = window.plugins.parent
    body: dict[str, Any] = {
        "plugins": {p: plugin_entry(window, p) for p in parent.visible}
    }
    if parent.other is not None:
        # Instance-plugin pairs of folded plugins (an instance counts once per
        # plugin), beside the map: every key inside it is some author's id.
        body["plugins_other"] = {"instances": parent.other}
    return _envelope(window, body)


def printing_stats(window: WindowFigures) -> dict[str, Any]:
    outcomes = window.outcomes
    return _envelope(
        window,
        {
            # data.octoprint.org: "Total duration of all prints" (seconds of the
            # prints that finished in the window, done, failed or cancelled).
            **_present(total=window.print_seconds, instances=window.print_instances),
            # Print seconds per UTC hour, of the prints that finished in it.
            "histogram": [
                {"start": iso(h.start), **_present(count=h.print_seconds)}
                for h in window.hours
            ],
            # Beyond data.octoprint.org: outcomes and the success rate.
            **_present(outcomes=outcomes, success_rate=window.success_rate()),
        },
    )


def python_stats(window: WindowFigures) -> dict[str, Any]:
    return _envelope(
        window,
        {
            **window.maps["python"].fields("versions", wrap=True),
            # Instances active per UTC hour on Python 2 / Python 3.
            "histogram": [
                {
                    "start": iso(h.start),
                    **_present(python2=h.python2, python3=h.python3),
                }
                for h in window.hours
            ],
        },
    )


def achievements_stats(window: WindowFigures) -> dict[str, Any]:
    """The newer data.octoprint.org's AchievementStats: instances that report
    achievements (OctoPrint 1.10+) and how many of them unlocked each."""
    return _envelope(
        window,
        {
            **_present(instances=window.achievement_instances),
            **window.achievements.fields("unlocked"),
        },
    )


# Breakdown exports, declared: export -> its field -> the map (window metric).
BREAKDOWN_EXPORTS: dict[str, dict[str, str]] = {
    "server_environment_stats": {"os": "os", "bits": "bits", "cores": "cores"},
    "client_environment_stats": {
        "browser": "browser",
        # Keys "<browser>/<major version>", as data.octoprint.org splits them.
        "browser_version": "browser_version",
        "os": "client_os",
    },
    "rpi_stats": {
        "models": "pi_model",
        "octopi_versions": "octopi",
        "octopiuptodate_builds": "octopiuptodate_build",
    },
    "firmware_stats": {"names": "firmware"},
}


def _breakdown_export(fields: dict[str, str]) -> Callable[[WindowFigures], dict]:
    def build(window: WindowFigures) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, metric in fields.items():
            body.update(window.maps[metric].fields(name, wrap=True))
        return _envelope(window, body)

    return build


BUILDERS: dict[str, Callable[[WindowFigures], dict[str, Any]]] = {
    "instance_stats": instance_stats,
    "plugin_stats": plugin_stats,
    "printing_stats": printing_stats,
    "python_stats": python_stats,
    **{stem: _breakdown_export(f) for stem, f in BREAKDOWN_EXPORTS.items()},
    "achievements_stats": achievements_stats,
}
assert tuple(BUILDERS) == NAMES


def parse_name(name: str) -> tuple[str, int] | None:
    """``"plugin_stats_7d"`` -> ("plugin_stats", 7), an alias -> its canonical
    stem; None for anything else."""
    stem, _, period = name.rpartition("_")
    stem = ALIASES.get(stem, stem)
    if stem not in BUILDERS or period not in {f"{d}d" for d in PERIODS}:
        return None
    return stem, int(period[:-1])


def export_names(aliases: bool = False) -> list[str]:
    """The export file names (``aliases``: with the other spellings served)."""
    stems = [*NAMES, *ALIASES] if aliases else list(NAMES)
    return [f"{stem}_{days}d" for stem in stems for days in PERIODS]
