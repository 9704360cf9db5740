"""Every public figure of one moment: one snapshot of the rollups, each map folded once.

The publisher reads the rollups it needs in ONE read transaction (:func:`read`)
and folds every map of every window once (:func:`build`, pure). The result,
:class:`Figures`, is what every public view reads: the exports, /api/stats, the
print history, the dashboard, and plugin pages, badges and archives. Two views of
one window therefore always show the same numbers, and no map is ever folded two
ways (two different folds of one map could be combined to reveal what each hides).

The API, for views:

* ``figures.generated`` (epoch seconds) and ``figures.min_group``;
* ``figures.window(days)`` -> :class:`WindowFigures` for 1, 7 or 30 days:
  ``instances`` (published count or None), ``maps[metric]`` (a
  :class:`~.smallgroup.Fold` per environment map: ``version``, ``python``, ``os``,
  ``bits``, ``cores``, ``pi_model``, ``octopi``, ``octopiuptodate_build``,
  ``firmware``, ``browser``, ``browser_version``, ``client_os``, ``country``),
  ``plugins`` (a :class:`~.smallgroup.NestedFold`: plugin -> versions),
  ``installers``/``uninstallers`` (shown plugins only), ``achievements`` and
  ``achievement_instances``; and for 7 and 30 days the hourly series ``hours``,
  the daily print series ``days``, ``print_seconds``, ``outcomes``,
  ``print_instances``;
* ``figures.print_days``: :class:`Day` rows over the history (print outcomes per
  day, folded together with the 7- and 30-day totals).

A figure that is None or absent is hidden; a view leaves its key out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import plugins as plugin_lists
from ..store import WINDOWS
from ..timefmt import DAY, HOUR, day_of
from .smallgroup import (
    Fold,
    NestedFold,
    fold_nested,
    fold_nonpartition,
    fold_partition,
    fold_series,
    fold_subsets,
    rate,
    shown_count,
)

SERIES_WINDOWS = (7, 30)  # windows with hourly and daily series (the exports')
OUTCOMES = ("started", "done", "failed", "cancelled")
FINISHED = OUTCOMES[1:]
# Environment maps that partition a window's instances (window rollup metrics).
PARTITIONS = (
    "version",
    "python",
    "os",
    "bits",
    "cores",
    "pi_model",
    "octopi",
    "octopiuptodate_build",
    "firmware",
    "client_os",
    "country",
)
UNKNOWN_KEY = "unknown"  # the rollups' key for instances without the value
# A map's keys the readers cannot show as values of their own, counted in its
# remainder whatever their size: data.octoprint.org's OS lookup knows only these
# (it shows any other key as "undefined"), and a value named "other" would read as
# a second remainder inside the map.
OS_KEYS = frozenset({"linux", "windows", "macos", "freebsd"})
REMAINDER_KEY = "other"
HOUR_METRICS = (
    "hour",
    "python2_hour",
    "python3_hour",
    "print_hour_seconds",
    "print_hour_instances",
    "print_finishers",
)
PRINT_METRICS = ("print_instances", *(f"print_{o}" for o in OUTCOMES))

Rollup = Mapping[str, Mapping[str, int]]  # metric -> key -> value
Daily = Mapping[str, Mapping[int, Mapping[str, int]]]  # metric -> day -> key -> value


@dataclass(frozen=True)
class Counts:
    """The unfolded rollups one :class:`Figures` is built from (pure input)."""

    now: float
    windows: Mapping[int, Rollup]
    """Window (1, 7, 30) -> its window rollup, as ``Store.window`` gives it."""
    daily: Daily
    """Daily rollups of the hourly and print metrics, as ``Store.daily``."""
    first_day: int
    """First day of the print history (the day series starts there)."""


@dataclass(frozen=True)
class Hour:
    """One UTC hour of a window: published values, None where hidden."""

    start: float
    instances: int | None
    python2: int | None
    python3: int | None
    print_seconds: int | None


@dataclass(frozen=True)
class Day:
    """One UTC day of print outcomes: published values, None where hidden."""

    day: int
    printers: int | None
    """Distinct instances with a print event that day."""
    outcomes: dict[str, int] | None
    """started/done/failed/cancelled."""

    def rates(self) -> dict[str, float | None]:
        finished = sum(self.outcomes[o] for o in FINISHED) if self.outcomes else 0
        return {
            f"{o}_rate": rate(self.outcomes[o], finished) if self.outcomes else None
            for o in FINISHED
        }


@dataclass(frozen=True)
class VersionPrints:
    """Printing instances on one OctoPrint version (the one it runs now) and the
    outcome rates of the prints reported on it."""

    version: str
    instances: int
    rates: dict[str, float | None] | None


@dataclass
class WindowFigures:
    """The published figures of one window (the last ``days`` days)."""

    days: int
    since: float
    generated: float
    instances: int | None = None
    maps: dict[str, Fold] = field(default_factory=dict)
    plugins: NestedFold | None = None
    installers: dict[str, int] = field(default_factory=dict)
    uninstallers: dict[str, int] = field(default_factory=dict)
    achievement_instances: int | None = None
    achievements: Fold = field(default_factory=lambda: Fold({}, None, None))
    print_instances: int | None = None
    hours: list[Hour] = field(default_factory=list)
    day_series: list[Day] = field(default_factory=list)
    print_seconds: int | None = None
    outcomes: dict[str, int] | None = None
    print_versions: tuple[Fold | None, list[VersionPrints]] = field(
        default_factory=lambda: (None, [])
    )

    def success_rate(self) -> float | None:
        if not self.outcomes:
            return None
        return rate(self.outcomes["done"], sum(self.outcomes[o] for o in FINISHED))


@dataclass
class Figures:
    """Every public figure of one snapshot (see the module's documentation)."""

    generated: float
    min_group: int
    windows: dict[int, WindowFigures]
    print_days: list[Day]

    def window(self, days: int) -> WindowFigures:
        return self.windows[days]


def read(store: Any, now: float, min_group: int, history_days: int) -> Figures:
    """Read the rollups in one snapshot and fold them: the figures of ``now``."""
    today = day_of(now)
    first = min(today - history_days + 1, day_of(now - max(WINDOWS) * DAY))
    hours_from = day_of(now - max(SERIES_WINDOWS) * DAY)
    with store.snapshot():
        windows = {w: store.window(w) for w in WINDOWS}
        daily = dict(store.daily(HOUR_METRICS, hours_from, today))
        daily.update(store.daily(PRINT_METRICS, first, today))
    return build(Counts(now, windows, daily, first), min_group)


def build(counts: Counts, min_group: int) -> Figures:
    """Fold every map once (pure)."""
    now = counts.now
    windows = {w: _window(counts.windows.get(w, {}), w, now, min_group) for w in WINDOWS}
    hours = _hour_series(counts, min_group)
    days = _day_series(counts, min_group)
    for w in SERIES_WINDOWS:
        fig = windows[w]
        # The hours and days a window shows are the ones its totals were folded over.
        fig.hours = hours.of(w)
        fig.print_seconds = hours.totals.get(w)
        fig.day_series = days.of(w)
        fig.outcomes = days.totals.get(w)
    windows[max(WINDOWS)].print_versions = _print_versions(
        counts, windows[max(WINDOWS)], min_group
    )
    return Figures(now, min_group, windows, days.rows)


def _partition(rollup: Rollup, metric: str, min_group: int) -> Fold:
    counts = dict(rollup.get(metric, {}))
    unknown = counts.pop(UNKNOWN_KEY, 0)
    forced = {k for k in counts if k == REMAINDER_KEY}
    if metric == "os":
        forced |= set(counts) - OS_KEYS
    return fold_partition(counts, unknown, min_group, forced)


def _browsers(rollup: Rollup, min_group: int) -> tuple[Fold, Fold]:
    """browser and browser_version ("<browser>/<major>"), one nested fold."""
    parents = dict(rollup.get("browser", {}))
    unknown = parents.pop(UNKNOWN_KEY, 0)
    children: dict[str, dict[str, int]] = {}
    for key, n in rollup.get("browser_version", {}).items():
        browser, _, major = key.rpartition("/")
        if browser and major != UNKNOWN_KEY:
            children.setdefault(browser, {})[major] = n
    nested = fold_nested(parents, children, unknown, min_group)
    versions = {
        f"{b}/{v}": n for b, f in nested.children.items() for v, n in f.visible.items()
    }
    ordered = dict(sorted(versions.items(), key=lambda kv: (-kv[1], kv[0])))
    return nested.parent, Fold(ordered, nested.other, nested.unknown)


def _plugins(rollup: Rollup, instances: int, min_group: int) -> NestedFold:
    parents = rollup.get("plugin", {})
    children: dict[str, dict[str, int]] = {}
    for key, n in rollup.get("plugin_version", {}).items():
        plugin, version = plugin_lists.entry(key)
        if version and version != plugin_lists.UNKNOWN_VERSION:
            children.setdefault(plugin, {})[version] = n
    return fold_nested(parents, children, 0, min_group, population=instances)


def plugin_figures(
    rollup: Rollup, instances: int, min_group: int
) -> tuple[NestedFold, dict[str, int], dict[str, int]]:
    """The plugins of one rollup (a window's, or a day's for the archive and the
    plugin pages) among its ``instances``: the fold of plugins and of each shown
    one's versions, and the distinct installing and uninstalling instances of the
    shown plugins. One fold for windows and days alike."""
    nested = _plugins(rollup, instances, min_group)
    installers = fold_subsets(
        rollup.get("plugin_installers", {}), nested.parent, min_group, within=True
    )
    uninstallers = fold_subsets(
        rollup.get("plugin_uninstallers", {}), nested.parent, min_group
    )
    return nested, installers, uninstallers


def _window(rollup: Rollup, days: int, now: float, min_group: int) -> WindowFigures:
    active = int(rollup.get("active", {}).get("", 0))
    fig = WindowFigures(days, now - days * DAY, now, shown_count(active, min_group))
    fig.maps = {m: _partition(rollup, m, min_group) for m in PARTITIONS}
    fig.maps["browser"], fig.maps["browser_version"] = _browsers(rollup, min_group)
    fig.plugins, fig.installers, fig.uninstallers = plugin_figures(
        rollup, active, min_group
    )
    reporting = int(rollup.get("achievements", {}).get("", 0))
    fig.achievement_instances = shown_count(reporting, min_group)
    if fig.achievement_instances is not None:
        fig.achievements = fold_nonpartition(
            rollup.get("achievement", {}), min_group, population=reporting
        )
    printing = sum(rollup.get("print_instances", {}).values())
    fig.print_instances = shown_count(int(printing), min_group)
    return fig


@dataclass
class _Series:
    """A folded series: its rows, the indexes of each window's rows (``members``,
    by window) and the windows' totals where the fold shows them."""

    rows: list
    members: dict[int, list[int]]
    totals: dict[int, Any]

    def of(self, window: int) -> list:
        return [self.rows[i] for i in self.members[window]]


def _day_list(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


def _hour_series(counts: Counts, min_group: int) -> _Series:
    """Every hour of the days the 30-day window touches: instances, Python majors
    (a partition of the hour's instances) and print seconds (folded as a series
    with the 7- and 30-day totals, per-day finishers bounding hidden hours)."""
    now, daily = counts.now, counts.daily
    days = _day_list(day_of(now - max(SERIES_WINDOWS) * DAY), day_of(now))
    starts = [float(d * DAY + h * HOUR) for d in days for h in range(24)]

    def per_hour(metric: str) -> list[int]:
        values = daily.get(metric, {})
        return [int(values.get(d, {}).get(str(h), 0)) for d in days for h in range(24)]

    active, seconds, printers = (
        per_hour("hour"),
        per_hour("print_hour_seconds"),
        per_hour("print_hour_instances"),
    )
    py2, py3 = per_hour("python2_hour"), per_hour("python3_hour")
    members = {
        w: [i for i, s in enumerate(starts) if now - w * DAY < s + HOUR and s <= now]
        for w in SERIES_WINDOWS
    }
    windows = list(members.values())
    finishers = daily.get("print_finishers", {})
    groups = [
        (range(i * 24, i * 24 + 24), int(finishers.get(d, {}).get("", 0)))
        for i, d in enumerate(days)
    ]
    fold = fold_series(seconds, printers, min_group, windows, groups)
    rows = []
    for i, start in enumerate(starts):
        majors = {"2": py2[i], "3": py3[i]}
        python = fold_partition(majors, active[i] - py2[i] - py3[i], min_group)
        rows.append(
            Hour(
                start,
                shown_count(active[i], min_group),
                _major(python, majors, "2"),
                _major(python, majors, "3"),
                seconds[i] if fold.shown[i] else None,
            )
        )
    totals = {
        w: sum(seconds[i] for i in windows[k])
        for k, w in enumerate(SERIES_WINDOWS)
        if fold.totals[k]
    }
    return _Series(rows, members, totals)


def _major(python: Fold, counts: Mapping[str, int], key: str) -> int | None:
    """One Python major of an hour as published: shown, or 0 for nobody (an empty
    group reveals no one) where the hour's split is published at all."""
    if key in python.visible:
        return python.visible[key]
    return 0 if counts[key] == 0 and python.published else None


def _day_series(counts: Counts, min_group: int) -> _Series:
    """Print outcomes per day over the history, folded with the window totals."""
    now, daily = counts.now, counts.daily
    days = _day_list(counts.first_day, day_of(now))

    def per_day(metric: str) -> list[int]:
        values = daily.get(metric, {})
        return [int(sum(values.get(d, {}).values())) for d in days]

    printers = per_day("print_instances")
    outcomes = list(zip(*(per_day(f"print_{o}") for o in OUTCOMES)))
    members = {
        w: [i for i, d in enumerate(days) if d >= day_of(now - w * DAY)]
        for w in SERIES_WINDOWS
    }
    windows = list(members.values())
    fold = fold_series(outcomes, printers, min_group, windows)
    rows = [
        Day(
            d,
            shown_count(printers[i], min_group),
            dict(zip(OUTCOMES, outcomes[i])) if fold.shown[i] else None,
        )
        for i, d in enumerate(days)
    ]
    totals = {
        w: {o: sum(outcomes[i][k] for i in windows[n]) for k, o in enumerate(OUTCOMES)}
        for n, w in enumerate(SERIES_WINDOWS)
        if fold.totals[n]
    }
    return _Series(rows, members, totals)


def _print_versions(
    counts: Counts, fig: WindowFigures, min_group: int
) -> tuple[Fold | None, list[VersionPrints]]:
    """Printing instances of the window by the version they run now (a partition
    of ``print_instances``), with the outcome rates of the prints reported on each
    version, where the instances behind them are enough. No event counts: beside
    the per-day counts they would form a table whose cells a reader could work
    out."""
    rollup = counts.windows.get(fig.days, {})
    fold = _partition(rollup, "print_instances", min_group)
    first = day_of(fig.since)
    sums: dict[str, Counter] = {}
    least: Counter = Counter()
    for day, per_version in counts.daily.get("print_instances", {}).items():
        if day < first:
            continue
        for version, n in per_version.items():
            least[version] = max(least[version], n)
    for outcome in FINISHED:
        for day, per_version in counts.daily.get(f"print_{outcome}", {}).items():
            if day >= first:
                for version, n in per_version.items():
                    sums.setdefault(version, Counter())[outcome] += n
    rows = []
    for version, n in fold.visible.items():
        got = sums.get(version, Counter())
        finished = sum(got.values())
        rates = None
        # At least min instances printed on this version on one day: the rates
        # describe at least that many.
        if least[version] >= min_group and finished:
            rates = {f"{o}_rate": rate(got[o], finished) for o in FINISHED}
        rows.append(VersionPrints(version, n, rates))
    return fold, rows
