"""Routes that publish data: exports, history, /metrics and an instance's own data.

Everything public here reads the store's rollups (window and daily), never rows per
report or per instance, so its cost does not grow with the fleet's history. The one
exception is ``GET /track/<id>/``, which reads exactly one instance's record, for
that instance.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from flask import Flask, Response, jsonify, request

from . import charts, exports, history, metrics, own_data
from . import validation as v
from .ratelimit import RateLimiter
from .stats import compute_stats


class Publisher:
    """What the routes compute, given a store and the small-group minimum.

    Documents of the fixed names (exports, version and print history) are cached
    for ``cache_seconds``, like the stats, so that anonymous requests do not cost a
    computation each; a plugin's history is not (its key comes from the client).
    """

    def __init__(
        self,
        store: Any,
        min_group: int,
        clock: Callable[[], float],
        history_days: int = history.HISTORY_DAYS,
        cache_seconds: float = 0.0,
        refresh: Callable[[float], Any] | None = None,
    ):
        self.store = store
        self.min_group = min_group
        self.clock = clock
        self.history_days = history_days
        self.cache_seconds = cache_seconds
        # Without a background refresher (tests, tools) the rollups are brought up
        # to date before a read, so a read sees every acknowledged report.
        self._refresh = refresh
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        now = self.clock()
        if self._refresh is not None:
            self._refresh(now)
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

    def trends(self, plugin_id: str | None) -> str:
        plugin_id = (plugin_id or "").lower()
        chosen = plugin_id if history.valid_plugin_id(plugin_id) else None
        return charts.trends(
            self.export("instance_stats_7d"),
            self.versions(),
            self.prints(),
            self.popular_plugins(),
            self.plugin(chosen) if chosen else None,
        )


def _public(document: dict[str, Any]) -> Response:
    """A public document: any web page may read it (data.octoprint.org's charts and
    third-party plugin dashboards fetch the exports from the browser). Only
    aggregated, masked figures get this header; an instance's own data never does.
    """
    response = jsonify(document)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def register(
    app: Flask,
    publisher: Publisher,
    error: Callable[[int, str, str], Response],
    limiter: RateLimiter | None = None,
) -> None:
    limiter = limiter or RateLimiter()
    registry = metrics.registry(publisher.active)

    @app.get("/export/<name>.json")
    def export(name: str) -> Response:
        document = publisher.export(name)
        if document is None:
            return error(404, "unknown_export", "no such export")
        return _public(document)

    @app.get("/api/history/versions")
    def history_versions() -> Response:
        return _public(publisher.versions())

    @app.get("/api/history/plugins/<plugin_id>")
    def history_plugin(plugin_id: str) -> Response:
        plugin_id = plugin_id.lower()
        if not history.valid_plugin_id(plugin_id):
            return error(400, "invalid_plugin_id", "plugin id must match [a-z0-9_.-]")
        return _public(publisher.plugin(plugin_id))

    @app.get("/api/history/prints")
    def history_prints() -> Response:
        return _public(publisher.prints())

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(
            metrics.exposition(registry),
            mimetype=None,
            headers={"Content-Type": metrics.CONTENT_TYPE},
        )

    @app.get("/track/<instance>/")
    @app.get("/track/<instance>")
    def own(instance: str) -> Response:
        if request.method == "HEAD":
            raise v.ValidationError(405, "method_not_allowed", "use GET")
        instance = v.instance_id(instance)
        wait = limiter.retry_after(instance)
        if wait:
            metrics.OWN_DATA.labels("limited").inc()
            response = error(429, "rate_limited", "too many requests, retry later")
            response.headers["Retry-After"] = str(wait)
            return response
        record = publisher.store.instance(instance)
        if record is None:
            metrics.OWN_DATA.labels("unknown").inc()
            return error(404, "unknown_instance", "nothing is stored for this id")
        metrics.OWN_DATA.labels("served").inc()
        response = jsonify(own_data.document(instance, record))
        # One instance's data: no shared cache may keep it.
        response.headers["Cache-Control"] = "no-store"
        return response
