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

from . import archive, badge, exports, history, plugin_page, transparency
from .figures import Figures, read
from .stats import compute_stats


@dataclass
class Publisher:
    """What the routes compute, given a store and the small-group minimum.

    :meth:`figures` reads the rollups in one snapshot and folds every map once;
    the exports, /api/stats, the print history and the dashboard are views of it,
    and it is reused for ``cache_seconds``, so that views read within that time
    show the same numbers and anonymous requests do not cost a computation each.
    The version history is cached alike; a plugin's history is not (its key comes
    from the client).
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

    def _now(self) -> float:
        now = self.clock()
        if self.refresh is not None:
            self.refresh(now)
        return now

    def _cached(self, key: str, compute: Callable[[], Any]) -> Any:
        if self.cache_seconds <= 0:
            return compute()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and 0 <= time.monotonic() - hit[0] < self.cache_seconds:
                return hit[1]
        value = compute()
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

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

    def plugin(self, plugin_id: str) -> dict[str, Any]:
        now = self._now()
        daily, first, last = history.read(self.store, "plugin", now, self.history_days)
        document = history.plugin(daily, plugin_id, first, last, now, self.min_group)
        fields = ("instances", "install_events")
        document["days"] = self._archived(document["days"], plugin_id, fields)
        return document

    def _archived(
        self, rows: list[dict[str, Any]], key: str, fields: tuple[str, ...] | None = None
    ) -> list[dict[str, Any]]:
        """History rows with the closed days the archive holds as it holds them."""
        days = self.store.archive_days(archive.DAY_STATS)
        if not days:
            return rows
        return archive.overlay(rows, self.store.archived_entries(key), days, fields)

    def prints(self, shown: Figures | None = None) -> dict[str, Any]:
        shown = shown or self.figures()
        first, _ = history.day_range(shown.generated, self.history_days)
        return history.prints(shown, first, shown.generated)

    def active(self) -> dict[str, int]:
        """Fleet gauges: public instances active in the last 24 h and 7 days."""
        self._now()
        return {
            label: int(self.store.window(days, ["active"]).get("active", {}).get("", 0))
            for label, days in (("24h", 1), ("7d", 7))
        }

    def popular_plugins(self, shown: Figures | None = None) -> list[str]:
        """Plugin ids offered in the dashboard's form: the ones the 7-day figures
        show."""
        week = (shown or self.figures()).window(7)
        return sorted(week.plugins.parent.visible) if week.plugins else []

    # ---- issue 18: plugin pages, badges, the transparency report, the archive ------

    def plugin_page(self, plugin_id: str) -> dict[str, Any]:
        """A plugin's page: its entry of the plugin_stats exports (this publisher's
        documents, so every view shows the same figures) and its daily series."""
        now = self._now()
        shown = self.figures()  # both windows from one snapshot
        current = {
            f"{days}d": self.export(f"plugin_stats_{days}d", shown)["plugins"].get(
                plugin_id
            )
            for days in exports.PERIODS
        }
        days = plugin_page.series(
            self.store, plugin_id, now, self.history_days, self.min_group
        )
        return plugin_page.document(plugin_id, current, days, now, self.min_group)

    def plugin_badge(self, plugin_id: str) -> badge.Badge:
        entry = self.export("plugin_stats_30d")["plugins"].get(plugin_id)
        shown = plugin_page.published(entry)
        return badge.of(shown["instances"] if shown else None)

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
