"""The publisher: every public document, as a view of one set of figures, cached.

Everything here reads the store's rollups (window and daily), never rows per
report or per instance, so its cost does not grow with the fleet's history. The
routes (``routes.py``), the dashboard (``web/``) and the fleet gauges of /metrics
ask it; none of them reads the store for public figures itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..timefmt import parse_day
from . import archive, badge, exports, history, plugin_page, transparency
from .figures import Figures, read
from .stats import compute_stats

# How long a failed computation is answered with its error (see Publisher._cached).
FAILURE_SECONDS = 1.0


@dataclass(frozen=True)
class _Failed:
    error: Exception


# The /metrics gauges of active instances: label -> window (days) of the figures.
FLEET_GAUGES = (("24h", 1), ("7d", 7))


@dataclass
class Publisher:
    """What the routes compute, given a store and the small-group minimum.

    :meth:`figures` reads the rollups in one snapshot and folds every map once;
    the exports, /api/stats, the print history and the dashboard are views of it,
    and it is reused for ``cache_seconds``, so that views read within that time
    show the same numbers and anonymous requests do not cost a computation each.
    The version history is cached alike, and so is every plugin's daily series
    (all plugins at once: a plugin's page or history is a projection of it, so an
    anonymous client asking for many ids costs no computation per id).
    """

    store: Any
    min_group: int
    clock: Callable[[], float]
    history_days: int = history.HISTORY_DAYS
    cache_seconds: float = 0.0
    refresh: Callable[[float], Any] | None = None
    """Without a background refresher (tests, tools) the rollups are brought up to
    date before a read, so a read sees every acknowledged report."""

    def __post_init__(self) -> None:
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._flights: dict[str, threading.Lock] = {}

    def _now(self) -> float:
        now = self.clock()
        if self.refresh is not None:
            self.refresh(now)
        return now

    def _cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, reused for ``cache_seconds``; one computation per key at a
        time (requests arriving meanwhile wait for it and share its result, or
        its error)."""
        if self.cache_seconds <= 0:
            return compute()
        with self._lock:
            hit = self._fresh(key)
            flight = self._flights.setdefault(key, threading.Lock())
        if hit is None:
            with flight:
                with self._lock:
                    hit = self._fresh(key)
                if hit is None:
                    try:
                        hit = (time.monotonic(), compute())
                    except Exception as exc:  # noqa: BLE001 - shared with the waiters
                        # The requests waiting for this computation get its error
                        # rather than each trying again in turn (the store is down:
                        # one timeout, not one per waiter); for FAILURE_SECONDS.
                        hit = (time.monotonic(), _Failed(exc))
                    with self._lock:
                        self._cache[key] = hit
        if isinstance(hit[1], _Failed):
            raise hit[1].error
        return hit[1]

    def _fresh(self, key: str) -> tuple[float, Any] | None:
        hit = self._cache.get(key)
        if hit is None:
            return None
        ttl = FAILURE_SECONDS if isinstance(hit[1], _Failed) else self.cache_seconds
        return hit if 0 <= time.monotonic() - hit[0] < ttl else None

    def figures(self) -> Figures:
        """Every public figure of one snapshot of the rollups (the views' source;
        also for pages built elsewhere: plugin pages, badges, archives)."""
        return self._cached(
            "figures",
            lambda: read(self.store, self._now(), self.min_group, self.history_days),
        )

    # The views below take the figures to show (``shown``), so that one page built
    # of several views (the dashboard) shows one snapshot; by default, the cached.

    def stats(self, shown: Figures | None = None) -> dict[str, Any]:
        """``/api/stats`` and the dashboard's figures."""
        return compute_stats(shown or self.figures())

    def export(self, name: str, shown: Figures | None = None) -> dict[str, Any] | None:
        parsed = exports.parse_name(name)
        if parsed is None:
            return None
        return exports.BUILDERS[parsed[0]]((shown or self.figures()).window(parsed[1]))

    def versions(self) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            now = self._now()
            daily, first, last = history.read(
                self.store, "versions", now, self.history_days
            )
            document = history.versions(daily, first, last, now, self.min_group)
            document["days"] = self._archived(document["days"], archive.FLEET)
            return document

        return self._cached("history:versions", compute)

    def _plugin_days(self) -> plugin_page.PluginDays:
        """Every plugin's figures per day (cached: one read and fold of all plugins
        per cache period, whichever plugin ids are asked for)."""

        def compute() -> plugin_page.PluginDays:
            now = self._now()
            return plugin_page.plugin_days(
                self.store, now, self.history_days, self.min_group
            )

        return self._cached("plugin_days", compute)

    def _plugin_entries(
        self, days: plugin_page.PluginDays, plugin_id: str, first: int
    ) -> list[tuple[int, bool, dict[str, Any]]]:
        """``plugin_id``'s entry of each day from ``first`` on (``days`` read once
        by the caller: without a cache, each read folds every plugin's days)."""
        # Only the archived days shown (an archive keeps years of them).
        archived = self.store.archived_entries(plugin_id, first) if days.archived else {}
        return plugin_page.entries(days, plugin_id, archived, first)

    def plugin(self, plugin_id: str) -> dict[str, Any]:
        """A plugin's history: its instances and installing instances per day of
        the rollups' history."""
        days = self._plugin_days()
        first = days.first_rollup  # the history's first day
        merged = self._plugin_entries(days, plugin_id, first)
        return history.plugin(merged, plugin_id, first, days.now)

    def _archived(self, rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        """History rows with the closed days the archive holds as it holds them."""
        days = self.store.archive_days(archive.DAY_STATS)
        if not days or not rows:
            return rows
        first = parse_day(rows[0]["day"]) or 0
        return archive.overlay(rows, self.store.archived_entries(key, first), days)

    def prints(self, shown: Figures | None = None) -> dict[str, Any]:
        shown = shown or self.figures()
        first, _ = history.day_range(shown.generated, self.history_days)
        return history.prints(shown, first, shown.generated)

    def active(self) -> dict[str, int | None]:
        """Fleet gauges: public instances active in the last 24 h and 7 days, as
        the figures publish them (None where the small-group rule hides the count:
        /metrics shows nothing the exports do not)."""
        shown = self.figures()
        return {label: shown.window(days).instances for label, days in FLEET_GAUGES}

    def popular_plugins(self, shown: Figures | None = None) -> list[str]:
        """Plugin ids offered in the dashboard's form: the ones the 7-day figures
        show."""
        week = (shown or self.figures()).window(7)
        return sorted(week.plugins.parent.visible) if week.plugins else []

    # ---- issue 18: plugin pages, badges, the transparency report, the archive ------

    def plugin_page(self, plugin_id: str) -> dict[str, Any]:
        """A plugin's page: its entry of the plugin_stats exports (this publisher's
        figures, so every view shows the same numbers) and its daily series."""
        # Both windows from one snapshot of the figures; the daily series from the
        # plugin days, cached alike (they can be up to one cache period apart).
        shown = self.figures()
        current = {
            f"{days}d": exports.plugin_entry(shown.window(days), plugin_id)
            for days in exports.PERIODS
        }
        days = self._plugin_days()
        merged = self._plugin_entries(days, plugin_id, days.first)
        return plugin_page.document(
            plugin_id,
            current,
            plugin_page.series(merged),
            days.first,
            days.now,
            self.min_group,
        )

    def plugin_badge(self, plugin_id: str) -> badge.Badge:
        """The plugin's instances in the 30-day ``plugin_stats`` export."""
        entry = exports.plugin_entry(self.figures().window(30), plugin_id)
        return badge.of(entry["instances"] if entry else None)

    def transparency(self, days: int) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            now = self._now()
            first, last = history.day_range(now, days)
            ledger = self.store.daily_counts(first, last)
            accepted = self.store.ingest_counts(first)
            return transparency.document(ledger, accepted, first, last, now)

        return self._cached(f"transparency:{days}", compute)

    def documents(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """The exports ``names`` from one snapshot of the figures (an archived
        day's set: its files agree with each other)."""
        shown = self.figures()
        return {name: self.export(name, shown) for name in names}

    def archive_files(self) -> list[Any]:
        """Every archived file (``Store.archive_index``), cached like the exports."""
        return self._cached("archive", self.store.archive_index)

    def archive_file(self, day: int, name: str) -> Any:
        """One archived file with its stored bytes, or None."""
        return self.store.archive_file(day, name)
