"""Pure part of the storage model: reports, per-batch folding and rollup arithmetic.

Nothing here touches a database. A batch of reports is folded into one update per
instance (latest environment, first/last seen) and one per instance-day (an
hours bitmask, the version run that day, print counters); pings and pongs never
become rows of their own. Rollups are computed from rows the backends fetch.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, NamedTuple

from .. import plugins
from ..timefmt import DAY, HOUR, day_of

WINDOWS = (1, 7, 30)
PRINT_EVENTS = ("print_started", "print_done", "print_failed", "print_cancelled")
PRINT_COLUMNS = ("started", "done", "failed", "cancelled")
# Reports that only update an instance's state and activity; never raw rows.
STATE_EVENTS = frozenset({"ping", "pong", "webui_load"})
RECENT_EVENTS = 50
# Prints whose ``elapsed`` adds to the day's print seconds (the finished ones).
FINISHED_EVENTS = frozenset({"print_done", "print_failed", "print_cancelled"})
# One print's elapsed time counts at most this much: a garbled or hostile value
# must not swamp a day's total (the longest real prints take days, not months).
MAX_ELAPSED = 30 * 86400

# Environment columns of ``instances`` and the report field each comes from.
ENV_FIELDS = (
    ("python", "python"),
    ("os", "os"),
    ("bits", "bits"),
    ("cores", "cores"),
    ("pi_model", "pi_model"),
    ("octopi", "octopi_version"),
    ("firmware", "firmware_name"),
    ("octopiuptodate_build", "octopiuptodate_build"),
)
# Columns whose latest value the instance row keeps (same order as in SQL).
ENV_COLUMNS = (
    "version",
    *(c for c, _ in ENV_FIELDS),
    "plugins",
    "achievements",
    "browser",
    "browser_version",
    "client_os",
    "country",
    "city",
)
# An achievement key as the achievements plugin names it (kept: lower case letters,
# digits, "_" and "-"; anything else a client sends is dropped).
_ACHIEVEMENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


class Pending(NamedTuple):
    """An admission decision (issue 13) left for the writer to complete, in the
    transaction that stores the report: only there can it tell at once whether
    the instance is new to the store, and count the new ids of its source.

    The admission (``trust/admission.py``) builds it while it still has the
    client address; the store completes it (``TrustTables.settle``) with
    :meth:`held`.
    """

    day: str
    """The UTC day the source's new ids are counted in."""

    source: str | None
    """The source's cohort (keyed hash of its network)."""

    token: str | None
    """Keyed hash of the instance id, counted among its source's new ids; None
    when the report counts against no budget (no source, or the budget is off)."""

    budget: int
    """New ids the source may create on ``day`` before they are held."""

    if_known: str | None
    """The hold reason if the instance exists (None: public)..."""

    if_new: str | None
    """...if it is new, within its source's budget..."""

    if_burst: str
    """...and if it is new past the budget."""

    def held(self, new: bool, created: int) -> str | None:
        """The hold reason: ``new`` whether the instance is new to the store,
        ``created`` the new ids its source created on ``day`` (this one included)."""
        if not new:
            return self.if_known
        if self.token is not None and created > self.budget:
            return self.if_burst
        return self.if_new


class Stored(NamedTuple):
    """What the writer stored for one report (the result of ``BatchWriter.add``)."""

    held: str | None
    """The hold reason the report was stored with (None: public)."""

    new: bool | None
    """Whether its instance was new to the store: for a Pending decision, as the
    writer found it; for a decided report, whether its batch created the
    instance's row (None: the report was not written)."""

    created: int
    """New ids its source created that day, this one included, counted up to its
    budget + 1 (0: not counted)."""


@dataclass(frozen=True)
class Report:
    """One usage report as received. Holds no client IP, only its derived location.

    ``held``/``cohort`` come from the optional admission hook (issue 13): a held
    report's instance is kept out of every public number until released.
    ``pending``: a decision the writer completes (it sets ``held``); never stored.
    """

    instance: str
    event: str
    ts: float
    version: str | None = None
    country: str = "unknown"
    city: str = "unknown"
    fields: dict[str, str] = field(default_factory=dict)
    held: str | None = None
    cohort: str | None = None
    pending: Pending | None = field(default=None, compare=False, repr=False)


@dataclass
class StoredEvent:
    ts: float
    event: str
    version: str | None
    fields: dict[str, str]


@dataclass
class InstanceFold:
    """An instance's row of the ``instances`` table (as a batch of its reports
    leaves it)."""

    uuid: str
    first_seen: float
    last_seen: float
    env: dict[str, str | None]
    last_print: float | None
    held: str | None
    cohort: str | None


@dataclass
class InstanceRecord(InstanceFold):
    """Everything the store holds about one instance (for its owner, issue 12):
    its row and its days, print hours and recent events."""

    released: bool = False
    # (day, hours bitmask, version, started, done, failed, cancelled), oldest first
    days: list[tuple] = field(default_factory=list)
    # (day, hour, seconds of the prints that finished in it), oldest first
    print_hours: list[tuple] = field(default_factory=list)
    events: list[StoredEvent] = field(default_factory=list)  # newest first


@dataclass
class CohortSummary:
    cohort: str
    instances: int
    first_seen: float
    last_seen: float
    reasons: dict[str, int]
    plugins: dict[str, int]


# Plugin events as OctoPrint's tracking plugin and ours name them on the wire
# (install_plugin, ...) and as rollup metrics; the "plugin_*" spellings too.
PLUGIN_EVENT_METRICS = {
    "install_plugin": "plugin_installed",
    "uninstall_plugin": "plugin_uninstalled",
    "plugin_installed": "plugin_installed",
    "plugin_uninstalled": "plugin_uninstalled",
}
# Events whose plugin version is counted per "id:version" (plugin_version_installed).
INSTALL_EVENTS = tuple(
    e for e, m in PLUGIN_EVENT_METRICS.items() if m == "plugin_installed"
)


def event_key(report: Report) -> str | None:
    """The one value an event is grouped by in rollups (plugin id, update target)."""
    if report.event.startswith("plugin_") or report.event.endswith("_plugin"):
        plugin = report.fields.get("plugin")
        return plugin.strip().lower() if plugin else None
    if report.event.startswith("update_"):
        return report.fields.get("target")
    return None


def browser_version(name: str, version: str | None) -> str:
    """``"<browser>/<major version>"``, the key data.octoprint.org groups clients by
    (minor versions would split every browser into dozens of tiny groups)."""
    major = (version or "").strip().split(".", 1)[0]
    return f"{name}/{major if major.isdigit() else 'unknown'}"


def achievement_keys(value: str) -> str:
    """A pong's ``achievements`` as the store keeps it: keys in lower case, sorted,
    each once, comma separated ("" for an instance that reports none unlocked)."""
    keys = {k.strip().lower() for k in value.split(",")}
    return ",".join(
        sorted(k for k in keys if 0 < len(k) <= 64 and set(k) <= _ACHIEVEMENT_CHARS)
    )


def elapsed_seconds(value: str | None) -> int:
    """A finished print's ``elapsed`` as whole seconds; 0 if missing or not a
    number, clamped to 0..MAX_ELAPSED."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
    if seconds != seconds:  # NaN
        return 0
    return int(min(max(seconds, 0.0), MAX_ELAPSED))


@dataclass
class DayFold:
    hours: int = 0
    version: str | None = None
    version_ts: float = float("-inf")
    prints: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    seconds: int = 0
    # UTC hour -> seconds of the prints that finished in it (a row per hour with a
    # finished print, even of 0 seconds: the instance is behind that hour's figure).
    finished: Counter = field(default_factory=Counter)


@dataclass
class Batch:
    """A batch of reports folded into the rows it changes."""

    instances: list[InstanceFold]
    # (uuid, day) -> DayFold
    days: dict[tuple[str, int], DayFold]
    # (uuid, day, ts, event, key, version, fields json)
    events: list[tuple]
    # (day, event) -> count of reports
    counts: Counter


def fold(reports: Sequence[Report]) -> Batch:
    by_instance: dict[str, list[Report]] = defaultdict(list)
    for report in reports:
        by_instance[report.instance].append(report)
    instances = []
    days: dict[tuple[str, int], DayFold] = {}
    events = []
    counts: Counter = Counter()
    # Sorted so every transaction locks rows in the same order (no deadlocks
    # between several collector processes on PostgreSQL).
    for uuid in sorted(by_instance):
        group = sorted(by_instance[uuid], key=lambda r: r.ts)
        env: dict[str, str | None] = dict.fromkeys(ENV_COLUMNS)
        last_print = None
        held = cohort = None
        for r in group:
            if r.version:
                env["version"] = r.version
            for column, name in ENV_FIELDS:
                value = r.fields.get(name)
                if value:
                    env[column] = value
            if r.event == "pong":
                # A pong always carries the full plugin list; empty is meaningful.
                env["plugins"] = plugins.normalize(r.fields.get("plugins", ""))
                # Achievements only where the host tracks them (OctoPrint 1.10+, the
                # category on); present but empty means none unlocked yet.
                if "achievements" in r.fields:
                    env["achievements"] = achievement_keys(r.fields["achievements"])
            if r.event == "webui_load":
                browser = r.fields.get("browser_name")
                if browser:
                    env["browser"] = browser
                    env["browser_version"] = browser_version(
                        browser, r.fields.get("browser_version")
                    )
                if r.fields.get("os_name"):
                    env["client_os"] = r.fields["os_name"]
            if r.country and r.country != "unknown":
                env["country"] = r.country
            if r.city and r.city != "unknown":
                env["city"] = r.city
            held = held or r.held
            cohort = cohort or r.cohort
            day = day_of(r.ts)
            counts[(day, r.event)] += 1
            d = days.setdefault((uuid, day), DayFold())
            hour = int((r.ts % DAY) // HOUR)
            d.hours |= 1 << hour
            if r.version and r.ts >= d.version_ts:
                d.version, d.version_ts = r.version, r.ts
            if r.event in PRINT_EVENTS:
                d.prints[PRINT_EVENTS.index(r.event)] += 1
                if r.event in FINISHED_EVENTS:
                    seconds = elapsed_seconds(r.fields.get("elapsed"))
                    d.seconds += seconds
                    d.finished[hour] += seconds
                last_print = r.ts
            elif r.event not in STATE_EVENTS:
                events.append(
                    (
                        uuid,
                        day,
                        r.ts,
                        r.event,
                        event_key(r),
                        r.version,
                        json.dumps(r.fields, ensure_ascii=False, sort_keys=True),
                    )
                )
        instances.append(
            InstanceFold(uuid, group[0].ts, group[-1].ts, env, last_print, held, cohort)
        )
    return Batch(instances, days, events, counts)


def _bump(counter: Counter, metric: str, key: Any, n: int = 1) -> None:
    counter[(metric, "unknown" if key in (None, "") else str(key))] += n


def _count(counter: Counter, metric: str, values: Iterable[Any]) -> None:
    # Counter() over a column runs in C; the per-key work is per distinct value.
    for key, n in Counter(values).items():
        _bump(counter, metric, key, n)


def _count_plugins(counter: Counter, values: Iterable[str | None]) -> None:
    # Stored lists are normalised at ingest (``plugins.normalize``), so an entry
    # is its own "id:version" key: splitting and counting run in C.
    entries = Counter(chain.from_iterable(plugins.split(v) for v in values))
    for entry, n in entries.items():
        counter[("plugin", plugins.entry(entry)[0])] += n
        counter[("plugin_version", entry)] += n


def _count_achievements(counter: Counter, values: Iterable[str | None]) -> None:
    # NULL: the instance never reported achievements (older host, category off);
    # "" reports them, with none unlocked.
    reporting = [v for v in values if v is not None]
    if reporting:
        counter[("achievements", "")] += len(reporting)
    keys = Counter(chain.from_iterable(v.split(",") for v in reporting if v))
    for key, n in keys.items():
        counter[("achievement", key)] += n


def env_breakdown(counter: Counter, columns: Sequence[Sequence[Any]]) -> None:
    """Count instances under each environment metric.

    ``columns``: one sequence per ENV_COLUMNS entry, a value per instance.
    """
    if not columns or not columns[0]:
        return
    counter[("active", "")] += len(columns[0])
    for metric, values in zip(ENV_COLUMNS, columns):
        if metric == "plugins":
            _count_plugins(counter, values)
        elif metric == "achievements":
            _count_achievements(counter, values)
        elif metric != "city":
            _count(counter, metric, values)


def day_rollup(
    rows: Iterable[Sequence[Any]],
    hour_sums: Sequence[int | None],
    print_rows: Iterable[Sequence[Any]],
    event_rows: Iterable[Sequence[Any]],
    install_rows: Iterable[Sequence[Any]] = (),
) -> Counter:
    """Rollup of one day.

    ``rows``: per public instance active that day, its env (ENV_COLUMNS order,
    with the version it ran that day). ``hour_sums``: instances active in each
    hour. ``print_rows``: (version, instances, started, done, failed, cancelled,
    print seconds). ``event_rows``: (event, key, count). ``install_rows``: (plugin
    id, stored fields JSON) of each plugin install event.
    """
    counter: Counter = Counter()
    rows = list(rows)
    if rows:
        env_breakdown(counter, list(zip(*rows)))
    for version, instances, *prints, seconds in print_rows:
        _bump(counter, "print_instances", version, int(instances))
        for column, n in zip(PRINT_COLUMNS, prints):
            if n:
                _bump(counter, "print_" + column, version, int(n))
                counter[("event", "print_" + column)] += int(n)
        if seconds:
            _bump(counter, "print_seconds", version, int(seconds))
    for hour, n in enumerate(hour_sums):
        if n:
            counter[("hour", str(hour))] = int(n)
    for event, key, n in event_rows:
        counter[("event", event)] += n
        if event in PLUGIN_EVENT_METRICS and key:
            counter[(PLUGIN_EVENT_METRICS[event], key)] += n
    for key, fields in install_rows:
        try:
            version = json.loads(fields).get("plugin_version")
        except (ValueError, AttributeError):
            version = None
        version = str(version).strip() if version else ""
        counter[("plugin_version_installed", plugins.key(key, version))] += 1
    return +counter


def hour_rollup(
    counter: Counter,
    python_hours: Iterable[Sequence[Any]],
    print_hours: Iterable[Sequence[Any]],
    finishers: int,
) -> None:
    """A day's hourly figures beside ``("hour", h)``, into its rollup ``counter``.

    ``python_hours``: (Python major 2/3, or another value, then 24 sums: instances
    active in each hour); ``print_hours``: (hour, print seconds, instances with a
    finished print in it); ``finishers``: distinct instances with a finished print
    that day (what lets the small-group rule tell how many stand behind hours
    hidden together).
    """
    for major, *sums in python_hours:
        if str(major) in ("2", "3"):
            for hour, n in enumerate(sums):
                if n:
                    counter[(f"python{major}_hour", str(hour))] = int(n)
    for hour, seconds, instances in print_hours:
        counter[("print_hour_seconds", str(hour))] = int(seconds)
        counter[("print_hour_instances", str(hour))] = int(instances)
    if finishers:
        counter[("print_finishers", "")] = int(finishers)


# Installing / uninstalling instances are counted as distinct instances, as the
# original exports did (not events: one instance installing twice counts once).
INSTALLER_METRICS = {
    "plugin_installed": "plugin_installers",
    "plugin_uninstalled": "plugin_uninstallers",
}


def installer_rollup(counter: Counter, rows: Iterable[Sequence[Any]]) -> None:
    """Distinct installing and uninstalling instances per plugin, from (event, plugin
    id, instance) rows of one day, into its rollup ``counter``."""
    seen = {(INSTALLER_METRICS[PLUGIN_EVENT_METRICS[e]], key, i) for e, key, i in rows}
    for metric, key, _ in seen:
        counter[(metric, key)] += 1


def installer_windows(rows: Iterable[Sequence[Any]], now: float) -> dict[int, Counter]:
    """Distinct installing and uninstalling instances per plugin in the 1/7/30-day
    windows, from (event, plugin id, instance, latest ts of that event) rows."""
    latest: dict[tuple[str, str, Any], float] = {}
    for event, key, instance, ts in rows:
        group = (INSTALLER_METRICS[PLUGIN_EVENT_METRICS[event]], key, instance)
        latest[group] = max(ts, latest.get(group, ts))
    result = {w: Counter() for w in WINDOWS}
    for (metric, key, _), ts in latest.items():
        for window in WINDOWS:
            if ts >= now - window * DAY:
                result[window][(metric, key)] += 1
    return result


def window_rollup(rows: Iterable[Sequence[Any]], now: float) -> dict[int, Counter]:
    """Windows of the last 1/7/30 days from public instances.

    ``rows``: env (ENV_COLUMNS order), last_seen, last_print. Each instance is
    counted once, in the narrowest window it falls in; wider windows are sums.
    """
    bounds = [now - w * DAY for w in WINDOWS]
    n_env = len(ENV_COLUMNS)
    seen: list[list[Sequence[Any]]] = [[] for _ in WINDOWS]
    printed: list[list[Any]] = [[] for _ in WINDOWS]
    for row in rows:
        last_seen, last_print = row[n_env], row[n_env + 1]
        for i, since in enumerate(bounds):
            if last_seen >= since:
                seen[i].append(row)
                break
        if last_print is not None:
            for i, since in enumerate(bounds):
                if last_print >= since:
                    printed[i].append(row[0])
                    break
    result = {}
    total: Counter = Counter()
    for window, bucket, versions in zip(WINDOWS, seen, printed):
        counter: Counter = Counter()
        if bucket:
            env_breakdown(counter, list(zip(*bucket))[:n_env])
        _count(counter, "print_instances", versions)
        total.update(counter)
        result[window] = Counter(total)
    return result
