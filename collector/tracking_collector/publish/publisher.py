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

from . import exports, history
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
            return history.versions(daily, first, last, now, self.min_group)

        return self._cached("history:versions", compute)

    def plugin(self, plugin_id: str) -> dict[str, Any]:
        now = self._now()
        daily, first, last = history.read(self.store, "plugin", now, self.history_days)
        return history.plugin(daily, plugin_id, first, last, now, self.min_group)

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
