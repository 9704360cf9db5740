"""Flask application factory: the tracking protocol, dashboard, stats API and OpenAPI.

Privacy decisions are made here at the edge: the client address is resolved (with
X-Forwarded-For only from trusted proxies), turned into country and city, and
dropped before a :class:`~tracking_collector.store.Report` is built.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from importlib import resources
from typing import Any, Callable, Optional

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, NotFound

from . import admin, metrics
from . import validation as v
from .admission import Admission as SourceAdmission
from .config import Config
from .dashboard import render
from .fastpath import FastPath
from .geo import GeoLookup, client_ip, parse_networks
from .history import HISTORY_DAYS
from .publish import Publisher
from .publish import register as register_publishing
from .source_state import StoreKeys, StoreState
from .sources import SourceKeys
from .store import BatchWriter, Report, Store, WriterClosed, open_store

log = logging.getLogger(__name__)

EXTENSION = "tracking_collector"
# Share of wall time the background refreshers (all processes together) may spend
# recomputing rollups; with a big fleet the refresh then runs less often.
REFRESH_BUDGET = 0.1

# The ingest hook of issue 13: called per valid report with the client address
# (before it is dropped) and the User-Agent; returns (held reason, cohort) or None.
AdmissionHook = Callable[
    [Report, Any, Optional[str]], Optional[tuple[Optional[str], Optional[str]]]
]


def load_openapi() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("openapi.json").read_text("utf-8")
    return json.loads(text)


class Collector:
    """Everything the app needs at runtime: store, writer, geo lookup, purger."""

    def __init__(
        self,
        config: Config,
        store: Store | None = None,
        geo: GeoLookup | None = None,
        clock: Callable[[], float] = time.time,
        background_purge: bool = True,
        background_refresh: bool = True,
        admission: AdmissionHook | None = None,
    ):
        self.config = config
        self.clock = clock
        self.store = (
            store
            if store is not None
            else open_store(
                config.db, synchronous=config.synchronous, pool_size=config.pool_size
            )
        )
        self.geo = geo if geo is not None else GeoLookup(config.geoip)
        self.trusted = parse_networks(config.trusted_proxies)
        self.policy = config.policy()
        self.store.lifetime = (self.policy.min_lifetime, self.policy.gone_after)
        # The admission policy of issue 13 unless the caller brings its own hook;
        # self.sources is None then (a custom hook keeps its own state).
        self.sources: SourceAdmission | None = None
        if admission is None:
            self.sources = SourceAdmission(
                SourceKeys(StoreKeys(self.store), clock),
                StoreState(self.store),
                self.policy,
                clock,
            )
            admission = self.sources
        self.admission = admission
        # The writer commits through a wrapper that times commits for /metrics.
        self.writer = BatchWriter(
            metrics.InstrumentedStore(self.store, lambda: self.writer.depth())
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        if background_purge:
            self._start(self._purge_loop, "purge")
        if background_refresh:
            self._start(self._refresh_loop, "refresh")

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(
            target=target, name=f"tracking-collector-{name}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _refresh_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.store.refresh(self.clock(), budget=REFRESH_BUDGET)
            except Exception:
                log.exception("Rollup refresh failed")
            self._stop.wait(self.config.refresh_interval)

    def admit(self, report: Report, address: Any, user_agent: str | None) -> Report:
        """Apply the admission hook (issue 13); a failing hook holds nothing."""
        if self.admission is None:
            return report
        try:
            verdict = self.admission(report, address, user_agent)
        except Exception:
            log.exception("Admission hook failed; report admitted unchanged")
            return report
        if not verdict:
            return report
        held, cohort = verdict
        return replace(report, held=held or None, cohort=cohort or None)

    def purge(self, now: float | None = None) -> int:
        """Delete everything older than the retention period; returns rows deleted."""
        now = self.clock() if now is None else now
        future = self.writer.purge(now - self.config.retention_seconds)
        return future.result(timeout=max(self.config.ack_timeout, 60.0))

    def housekeeping(self) -> None:
        """Admission upkeep, with the retention purge: hold what bursting sources
        slipped past the hold at ingest, destroy the source keys of past days."""
        if self.sources is not None:
            destroyed = self.sources.rotate()
            if destroyed:
                log.info("Destroyed the source keys of %d past days", destroyed)

    def _purge_loop(self) -> None:
        while not self._stop.is_set():
            try:
                deleted = self.purge()
                if deleted:
                    log.info("Retention purge removed %d rows", deleted)
            except Exception:
                log.exception("Retention purge failed")
            try:
                self.housekeeping()
            except Exception:
                log.exception("Admission housekeeping failed")
            self._stop.wait(self.config.purge_interval)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self.writer.close()
        self.store.close()
        self.geo.close()


def get_collector(app: Flask | None = None) -> Collector:
    return (app or current_app).extensions[EXTENSION]


def _read_body(stream, limit: int) -> bytes:
    """Read up to ``limit`` bytes; a single read() may legally return fewer."""
    chunks, size = [], 0
    while size < limit:
        chunk = stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def create_app(
    config: Config | None = None,
    *,
    store: Store | None = None,
    geo: GeoLookup | None = None,
    clock: Callable[[], float] = time.time,
    background_purge: bool = True,
    background_refresh: bool = True,
    admission: AdmissionHook | None = None,
    fast_path: bool = True,
) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__)
    # No MAX_CONTENT_LENGTH: Werkzeug would silently truncate chunked bodies at the
    # limit; _read_fields reads one byte past the limit to answer 413 instead.
    app.json.sort_keys = False
    # "/track//ping" must be a plain 404, not a redirect to a merged path.
    app.url_map.merge_slashes = False
    collector = Collector(
        config, store, geo, clock, background_purge, background_refresh, admission
    )
    app.extensions[EXTENSION] = collector
    openapi = load_openapi()
    # The success body is the same for every report: serialise it once (the same
    # bytes jsonify would produce) instead of on every request.
    ok_body = app.json.response({"ok": True}).get_data()
    ok_mimetype = app.json.mimetype

    def _ok() -> Response:
        return app.response_class(ok_body, mimetype=ok_mimetype)

    def _error(status: int, code: str, message: str) -> Response:
        # What jsonify() does, without needing an app context (the fast path
        # renders its errors with this too, so both paths give the same bytes).
        response = app.json.response({"ok": False, "error": code, "message": message})
        response.status_code = status
        return response

    @app.errorhandler(v.ValidationError)
    def _validation_error(exc: v.ValidationError) -> Response:
        return _error(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = _error(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    def _internal_error(path: str) -> Response:
        log.exception("Unhandled error on %s", path)
        return _error(500, "internal_error", "internal error")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        return _internal_error(request.path)

    def _read_fields(
        method: str,
        query_string: bytes,
        length: int | None,
        mimetype: Callable[[], str],
        stream: Callable[[], Any],
    ) -> dict[str, str]:
        if len(query_string) > v.MAX_QUERY_BYTES:
            raise v.ValidationError(413, "query_too_large", "query string exceeds 64 KiB")
        if length is not None and length > v.MAX_BODY_BYTES:
            raise v.ValidationError(413, "body_too_large", "request body exceeds 64 KiB")
        pairs = v.parse_pairs(query_string, "query string")
        if method == "POST":
            if mimetype() not in v.FORM_TYPES:
                raise v.ValidationError(
                    400,
                    "unsupported_content_type",
                    "body must be application/x-www-form-urlencoded",
                )
            # OctoPrint posts an urlencoded str with requests, which sends no
            # Content-Type, so the raw body is parsed whatever the header says.
            body = _read_body(stream(), v.MAX_BODY_BYTES + 1)
            if len(body) > v.MAX_BODY_BYTES:
                raise v.ValidationError(
                    413, "body_too_large", "request body exceeds 64 KiB"
                )
            body_pairs = v.parse_pairs(body, "body")
            if len(pairs) + len(body_pairs) > v.MAX_FIELDS:
                raise v.ValidationError(
                    400, "too_many_fields", f"at most {v.MAX_FIELDS} fields are allowed"
                )
            pairs += body_pairs
        return v.fields(pairs)

    def _wait(future) -> Any:
        try:
            return future.result(timeout=config.ack_timeout)
        except FutureTimeout:
            raise v.ValidationError(
                503, "store_unavailable", "report not stored in time, retry later"
            ) from None
        except Exception:
            log.exception("Store write failed")
            raise v.ValidationError(
                503, "store_unavailable", "report could not be stored, retry later"
            ) from None

    def _submit(operation, argument) -> None:
        """Hand work to the writer and wait until it is committed (ack == stored)."""
        try:
            future = operation(argument)
        except WriterClosed:
            raise v.ValidationError(
                503, "shutting_down", "collector is shutting down"
            ) from None
        _wait(future)

    @metrics.counted
    def record(
        instance: str,
        event: str,
        method: str,
        query_string: bytes,
        length: int | None,
        mimetype: Callable[[], str],
        stream: Callable[[], Any],
        remote_addr: str | None,
        forwarded_for: str | None,
        user_agent: str | None,
    ) -> None:
        """Validate, locate and store one report (GET or POST); ValidationError if not.

        Shared by the Flask view and the WSGI fast path, so the rules live here once.
        """
        instance = v.instance_id(instance)
        event = v.event_name(event)
        fields = _read_fields(method, query_string, length, mimetype, stream)
        age = v.age_seconds(fields.pop("age", None), config.max_age_seconds)
        # The address is resolved, geolocated and shown to the admission hook in
        # this one scope and never assigned to anything that outlives the request.
        address = client_ip(remote_addr, forwarded_for, collector.trusted)
        country, city = collector.geo.lookup(address)
        report = Report(
            instance=instance,
            event=event,
            ts=collector.clock() - age,
            version=v.version_from(fields, user_agent),
            country=country,
            city=city,
            fields=fields,
        )
        report = collector.admit(report, address, user_agent)
        del address
        _submit(collector.writer.add, report)

    @app.route("/track/<instance>/<event>/", methods=["GET", "POST"])
    @app.route("/track/<instance>/<event>", methods=["GET", "POST"])
    def track(instance: str, event: str) -> Response:
        if request.method == "HEAD":
            # Flask adds HEAD to GET routes; a HEAD must not record a report.
            raise v.ValidationError(405, "method_not_allowed", "use GET or POST")
        headers = request.headers
        record(
            instance,
            event,
            request.method,
            request.query_string,
            request.content_length,
            lambda: request.mimetype or "",
            lambda: request.stream,
            request.remote_addr,
            headers.get("X-Forwarded-For"),
            headers.get("User-Agent"),
        )
        return _ok()

    @app.route("/track/<instance>/", methods=["DELETE"])
    @app.route("/track/<instance>", methods=["DELETE"])
    def forget(instance: str) -> Response:
        instance = v.instance_id(instance)
        _submit(collector.writer.forget, instance)
        if collector.sources is not None:
            # Its id is new again: a next report uses its network's budget.
            collector.sources.forget(instance)
        return _ok()

    publisher = Publisher(
        collector.store,
        config.min_group,
        collector.clock,
        history_days=max(1, min(HISTORY_DAYS, int(config.retention_days))),
        cache_seconds=config.stats_cache,
        refresh=None if background_refresh else collector.store.refresh,
    )
    register_publishing(app, publisher, _error)

    @app.get("/api/stats")
    def api_stats() -> Response:
        return jsonify(publisher.stats())

    @app.get("/")
    def dashboard() -> Response:
        trends = publisher.trends(request.args.get("plugin"))
        return Response(render(publisher.stats(), trends), mimetype="text/html")

    @app.get("/openapi.json")
    def openapi_doc() -> Response:
        return jsonify(openapi)

    @app.get("/admin/suspects")
    def admin_suspects() -> Response:
        # Without a configured token the page does not exist, rather than being a
        # page anyone could guess a token for.
        if not config.admin_token:
            raise NotFound()
        if not admin.authorized(config.admin_token, request.headers.get("Authorization")):
            response = _error(401, "unauthorized", "the admin token is required")
            response.headers["WWW-Authenticate"] = 'Basic realm="tracking-collector"'
            return response
        rows = admin.cohort_rows(collector.store.cohorts())
        if request.args.get("format") == "json":
            response = jsonify(rows)
        else:
            response = Response(admin.render_page(rows), mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        return _ok()

    if fast_path:
        # Flask.__call__ (what WSGI servers call) goes through app.wsgi_app, so this
        # puts the fast path in front of every request, served or test client.
        app.wsgi_app = FastPath(  # type: ignore[method-assign]
            app.wsgi_app,
            record=record,
            ok=_ok(),
            error=_error,
            http_error=_http_error,
            internal_error=_internal_error,
        )
    return app
