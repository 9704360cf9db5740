"""The publisher: every public document, read from the store's rollups and cached.

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

from . import badge, exports, history, plugin_page, transparency
from .stats import compute_stats


@dataclass
class Publisher:
    """What the routes compute, given a store and the small-group minimum.

    Documents of the fixed names (exports, version and print history) are cached
    for ``cache_seconds``, like the stats, so that anonymous requests do not cost a
    computation each; a plugin's history is not (its key comes from the client).
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
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        now = self.clock()
        if self.refresh is not None:
            self.refresh(now)
        return now

    def _cached(self, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if self.cache_seconds <= 0:
            return compute()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and 0 <= time.monotonic() - hit[0] < self.cache_seconds:
                return hit[1]
        document = compute()
        with self._lock:
            self._cache[key] = (time.monotonic(), document)
        return document

    def stats(self) -> dict[str, Any]:
        """``/api/stats`` and the dashboard's figures, under the same cache: it keeps
        anonymous requests from costing a computation each."""
        return self._cached(
            "stats", lambda: compute_stats(self.store, self.min_group, now=self._now())
        )

    def export(self, name: str) -> dict[str, Any] | None:
        parsed = exports.parse_name(name)
        if parsed is None:
            return None
        stem, days = parsed

        def compute() -> dict[str, Any]:
            window = exports.read_window(self.store, days, self._now())
            return exports.BUILDERS[stem](window, self.min_group)

        return self._cached(name, compute)

    def _daily(self, kind: str) -> tuple[Any, int, int, float]:
        now = self._now()
        daily, first, last = history.read(self.store, kind, now, self.history_days)
        return daily, first, last, now

    def versions(self) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            daily, first, last, now = self._daily("versions")
            return history.versions(daily, first, last, now, self.min_group)

        return self._cached("history:versions", compute)

    def plugin(self, plugin_id: str) -> dict[str, Any]:
        daily, first, last, now = self._daily("plugin")
        return history.plugin(daily, plugin_id, first, last, now, self.min_group)

    def prints(self) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            daily, first, last, now = self._daily("prints")
            return history.prints(daily, first, last, now, self.min_group)

        return self._cached("history:prints", compute)

    def active(self) -> dict[str, int]:
        """Fleet gauges: public instances active in the last 24 h and 7 days."""
        self._now()
        return {
            label: int(self.store.window(days, ["active"]).get("active", {}).get("", 0))
            for label, days in (("24h", 1), ("7d", 7))
        }

    def popular_plugins(self) -> list[str]:
        """Plugin ids offered in the dashboard's form: only groups big enough to show."""
        counts = self.store.window(7, ["plugin"]).get("plugin", {})
        return sorted(p for p, n in counts.items() if n >= self.min_group)

    # ---- issue 18: plugin pages, badges, the transparency report, the archive ------

    def plugin_page(self, plugin_id: str) -> dict[str, Any]:
        """A plugin's page: its entry of the plugin_stats exports (this publisher's
        documents, so every view shows the same figures) and its daily series."""
        now = self._now()
        current = {
            f"{days}d": self.export(f"plugin_stats_{days}d")["plugins"].get(plugin_id)
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

    def archive_files(self) -> list[Any]:
        """Every archived file (``Store.archive_index``), cached like the exports."""
        return self._cached("archive", lambda: {"files": self.store.archive_index()})[
            "files"
        ]

    def archive_file(self, day: int, name: str) -> Any:
        """One archived file with its stored bytes, or None."""
        return self.store.archive_file(day, name)
