"""Public exports with data.octoprint.org's file names and shapes, built from rollups.

OctoPrint's maintainer publishes ``/export/<name>_{7,30}d.json`` and the charts at
data.octoprint.org (``src/util/data.js``, ``src/components/*``), plugins.octoprint.org
and third-party plugin dashboards read them. The builders here are pure: they take
a :class:`Window` (figures for one time window, as the store's rollups give them)
and return the document, so the shape is testable without a database and the same
for every store backend. Each document carries ``_since`` and ``_generated``
(ISO 8601, UTC), which data.octoprint.org shows as "based on usage data from ...".

Every number that counts instances follows the small-group rule
(:mod:`.smallgroup`): a group below ``min_group`` is the string "<N",
never exact. Maps that partition a set (versions of OctoPrint, of a plugin, ...)
also hide a second group when only one would be hidden, so the small one cannot be
recovered from the total. Figures that are not instance counts (print seconds,
install events) are hidden when the instances behind them are too few.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import plugins
from ..timefmt import DAY, HOUR, day_of, iso
from .smallgroup import hidden_unless, masked, masked_map

PERIODS = (7, 30)

# data.octoprint.org's file name stems; the dashboard and the OpenAPI document
# list the same names.
NAMES = (
    "instance_stats",
    "plugin_stats",
    "printing_stats",
    "python_stats",
    "server_environment_stats",
    "client_environment_stats",
    "rpi_stats",
    "firmware_stats",
)

OUTCOMES = ("started", "done", "failed", "cancelled")


@dataclass
class Window:
    """What the store's rollups say about one window (the last ``days`` days)."""

    days: int
    since: float
    """Start of the window (epoch seconds, UTC)."""
    generated: float
    """When the figures were read (epoch seconds, UTC)."""
    instances: int = 0
    """Unique instances active in the window (quarantined ones excluded)."""
    hourly: list[tuple[float, int]] = field(default_factory=list)
    """(hour start, unique instances active in that hour), oldest first."""
    breakdowns: dict[str, Counter] = field(default_factory=dict)
    """Dimension ("version", "python", "os", "bits", "cores", "pi_model",
    "octopi_version", "octopiuptodate_build", "firmware", "browser",
    "browser_version", "client_os") -> value -> unique instances."""
    python_hourly: list[tuple[float, int, int]] = field(default_factory=list)
    """(bucket start, instances on Python 2, instances on Python 3), oldest first."""
    plugins: Counter = field(default_factory=Counter)
    """Plugin id -> unique instances that run it."""
    plugin_versions: dict[str, Counter] = field(default_factory=dict)
    """Plugin id -> plugin version -> unique instances."""
    plugin_installs: Counter = field(default_factory=Counter)
    """Plugin id -> install events."""
    plugin_version_installs: dict[str, Counter] = field(default_factory=dict)
    """Plugin id -> installed version -> install events."""
    print_instances: int = 0
    """Unique instances that sent any print event in the window."""
    prints: Counter = field(default_factory=Counter)
    """Outcome ("started", "done", "failed", "cancelled") -> events."""
    print_seconds: float = 0.0
    """Summed duration of finished prints."""
    print_histogram: list[tuple[float, float, int]] = field(default_factory=list)
    """(bucket start, print seconds, instances printing), oldest first."""


def _wrapped(counter: Mapping[Any, int], min_group: int) -> dict[str, dict]:
    """The {key: {"instances": n}} shape of the environment exports."""
    return {
        key: {"instances": value} for key, value in masked_map(counter, min_group).items()
    }


def _envelope(window: Window, body: dict[str, Any]) -> dict[str, Any]:
    return {"_since": iso(window.since), "_generated": iso(window.generated), **body}


def instance_stats(window: Window, min_group: int) -> dict[str, Any]:
    return _envelope(
        window,
        {
            "count": masked(window.instances, min_group),
            "versions": masked_map(window.breakdowns.get("version", {}), min_group),
            "histogram": [
                {"start": iso(start), "count": masked(count, min_group)}
                for start, count in window.hourly
            ],
        },
    )


def _plugin_entry(window: Window, plugin: str, min_group: int) -> dict[str, Any]:
    instances = window.plugins.get(plugin, 0)
    installs = window.plugin_installs.get(plugin, 0)
    version_installs = window.plugin_version_installs.get(plugin, Counter())
    versions = masked_map(window.plugin_versions.get(plugin, Counter()), min_group)
    # Install events are not instances; shown only where the plugin's own group is
    # big enough, and (like a count) never below the minimum, since fewer events
    # than the minimum means fewer installing instances too.
    return {
        "instances": masked(instances, min_group),
        "install_events": hidden_unless(
            masked(installs, min_group), instances, min_group
        ),
        "versions": {
            version: {
                "instances": shown,
                "install_events": hidden_unless(
                    masked(version_installs.get(version, 0), min_group),
                    shown if isinstance(shown, int) else 0,
                    min_group,
                ),
            }
            for version, shown in versions.items()
        },
    }


def plugin_stats(window: Window, min_group: int) -> dict[str, Any]:
    ids = sorted(
        set(window.plugins) | set(window.plugin_installs),
        key=lambda p: (-window.plugins.get(p, 0), p),
    )
    return _envelope(
        window, {"plugins": {p: _plugin_entry(window, p, min_group) for p in ids}}
    )


def printing_stats(window: Window, min_group: int) -> dict[str, Any]:
    enough = window.print_instances >= min_group
    finished = sum(window.prints.get(k, 0) for k in ("done", "failed", "cancelled"))
    return _envelope(
        window,
        {
            # data.octoprint.org: "Total duration of all prints" (seconds).
            "total": round(window.print_seconds) if enough else None,
            "instances": masked(window.print_instances, min_group),
            "histogram": [
                {
                    "start": iso(start),
                    "count": hidden_unless(round(seconds), printing, min_group),
                }
                for start, seconds, printing in window.print_histogram
            ],
            # Beyond data.octoprint.org: outcomes and the success rate.
            "outcomes": {
                k: (window.prints.get(k, 0) if enough else None) for k in OUTCOMES
            },
            "success_rate": (
                round(window.prints.get("done", 0) / finished, 4)
                if enough and finished
                else None
            ),
        },
    )


def python_stats(window: Window, min_group: int) -> dict[str, Any]:
    return _envelope(
        window,
        {
            "versions": _wrapped(window.breakdowns.get("python", {}), min_group),
            "histogram": [
                {
                    "start": iso(start),
                    "python2": masked(py2, min_group),
                    "python3": masked(py3, min_group),
                }
                for start, py2, py3 in window.python_hourly
            ],
        },
    )


# Breakdown exports, declared: export -> its field -> the dimension it shows.
BREAKDOWN_EXPORTS: dict[str, dict[str, str]] = {
    "server_environment_stats": {"os": "os", "bits": "bits", "cores": "cores"},
    "client_environment_stats": {
        "browser": "browser",
        # Keys "<browser>/<version>", as data.octoprint.org splits them.
        "browser_version": "browser_version",
        "os": "client_os",
    },
    "rpi_stats": {
        "models": "pi_model",
        "octopi_versions": "octopi_version",
        "octopiuptodate_builds": "octopiuptodate_build",
    },
    "firmware_stats": {"names": "firmware"},
}


def _breakdown_export(fields: dict[str, str]) -> Callable[[Window, int], dict[str, Any]]:
    def build(window: Window, min_group: int) -> dict[str, Any]:
        return _envelope(
            window,
            {
                name: _wrapped(window.breakdowns.get(dimension, {}), min_group)
                for name, dimension in fields.items()
            },
        )

    return build


BUILDERS: dict[str, Callable[[Window, int], dict[str, Any]]] = {
    "instance_stats": instance_stats,
    "plugin_stats": plugin_stats,
    "printing_stats": printing_stats,
    "python_stats": python_stats,
    **{stem: _breakdown_export(f) for stem, f in BREAKDOWN_EXPORTS.items()},
}
assert tuple(BUILDERS) == NAMES


def parse_name(name: str) -> tuple[str, int] | None:
    """``"plugin_stats_7d"`` -> ("plugin_stats", 7); None for anything else."""
    stem, _, period = name.rpartition("_")
    if stem not in BUILDERS or period not in {f"{d}d" for d in PERIODS}:
        return None
    return stem, int(period[:-1])


def export_names() -> list[str]:
    return [f"{stem}_{days}d" for stem in NAMES for days in PERIODS]


def build(name: str, window: Window, min_group: int) -> dict[str, Any]:
    stem, days = parse_name(name) or (None, None)
    if stem is None or days != window.days:
        raise KeyError(name)
    return BUILDERS[stem](window, min_group)


# Reading a window from the store's rollups ---------------------------------------

# Store rollup metric -> Window.breakdowns dimension.
DIMENSIONS = {
    "version": "version",
    "python": "python",
    "os": "os",
    "bits": "bits",
    "cores": "cores",
    "pi_model": "pi_model",
    "octopi": "octopi_version",
    "octopiuptodate_build": "octopiuptodate_build",
    "firmware": "firmware",
    "browser": "browser",
    "browser_version": "browser_version",
    "client_os": "client_os",
}
_PRINT_METRICS = tuple(f"print_{o}" for o in OUTCOMES)


def _python_major(versions: Mapping[str, int]) -> tuple[int, int]:
    py2 = sum(n for v, n in versions.items() if v.startswith("2."))
    py3 = sum(n for v, n in versions.items() if v.startswith("3."))
    return py2, py3


def read_window(store: Any, days: int, now: float) -> Window:
    """Figures of the last ``days`` days from the store's rollups only.

    Unique counts over the window come from the store's window rollups (distinct
    instances by latest environment); per-hour and per-day series and event sums
    from its daily rollups. Neither grows with the number of reports.
    """
    since = now - days * DAY
    first_day, last_day = day_of(since), day_of(now)
    win = store.window(days)
    daily = store.daily(
        (
            "hour",
            "python",
            "plugin_installed",
            "plugin_version_installed",
            "print_instances",
            "print_seconds",
        )
        + _PRINT_METRICS,
        first_day,
        last_day,
    )
    hourly = []
    for day in range(first_day, last_day + 1):
        hours = daily.get("hour", {}).get(day, {})
        for hour in range(24):
            start = day * DAY + hour * HOUR
            if since <= start + HOUR and start <= now:
                hourly.append((float(start), int(hours.get(str(hour), 0))))
    python_days = daily.get("python", {})
    prints: Counter = Counter()
    for outcome, metric in zip(OUTCOMES, _PRINT_METRICS):
        prints[outcome] = sum(
            sum(keys.values()) for keys in daily.get(metric, {}).values()
        )
    seconds = daily.get("print_seconds", {})
    printing = daily.get("print_instances", {})
    return Window(
        days=days,
        since=since,
        generated=now,
        instances=int(win.get("active", {}).get("", 0)),
        hourly=hourly,
        breakdowns={
            dim: Counter(win.get(metric, {}))
            for metric, dim in DIMENSIONS.items()
            if metric in win
        },
        python_hourly=[
            (float(day * DAY), *_python_major(python_days.get(day, {})))
            for day in range(first_day, last_day + 1)
        ],
        plugins=Counter(win.get("plugin", {})),
        plugin_versions=_by_plugin(win.get("plugin_version", {})),
        plugin_installs=_summed(daily.get("plugin_installed", {})),
        plugin_version_installs=_by_plugin(
            _summed(daily.get("plugin_version_installed", {}))
        ),
        print_instances=int(sum(win.get("print_instances", {}).values())),
        prints=prints,
        print_seconds=float(sum(sum(k.values()) for k in seconds.values())),
        print_histogram=[
            (
                float(day * DAY),
                float(sum(seconds.get(day, {}).values())),
                int(sum(printing.get(day, {}).values())),
            )
            for day in range(first_day, last_day + 1)
        ],
    )


def _summed(per_day: Mapping[int, Mapping[str, int]]) -> Counter:
    """Key -> sum over days (for event counts, which add up; instances do not)."""
    total: Counter = Counter()
    for keys in per_day.values():
        total.update(keys)
    return total


def _by_plugin(counts: Mapping[str, int]) -> dict[str, Counter]:
    """``{"id:version": n}`` -> plugin id -> version -> n."""
    result: dict[str, Counter] = {}
    for key, value in counts.items():
        plugin, version = plugins.entry(key)
        result.setdefault(plugin, Counter())[version or plugins.UNKNOWN_VERSION] = value
    return result
