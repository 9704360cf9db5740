"""What one collector app runs on: its store, writer, geo lookup, admission,
intake, publisher, rate limiter and background loops, built from its Config.

``create_app`` builds one :class:`Collector` per app and keeps it in
``app.extensions``; the blueprints reach it with :func:`get_collector`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable

from flask import Flask, current_app

from .errors import Answers
from .ingest.address import GeoLookup
from .ingest.intake import AdmissionHook, Intake
from .ingest.refusals import Refusals
from .ops import metrics
from .ops.loops import Loops
from .ops.ratelimit import RateLimiter
from .publish import exports
from .publish.archive import Archiver
from .publish.history import HISTORY_DAYS
from .publish.publisher import Publisher
from .settings import Config
from .store import BatchWriter, Store
from .trust.state import store_admission

if TYPE_CHECKING:
    from .trust.admission import Admission

log = logging.getLogger(__name__)

EXTENSION = "tracking_collector"
# Share of wall time the background refreshers (all processes together) may spend
# recomputing rollups; with a big fleet the refresh then runs less often.
REFRESH_BUDGET = 0.1
# Seconds the writer lingers for more reports before a commit, only while reports
# are already waiting (see BatchWriter): row 7 on PostgreSQL, 4 alternating runs
# each: CPU per report -14 %, reports/s +18 % (medians), latency unchanged.
BUSY_WAIT = 0.002


class Collector:
    """The parts of one collector app, wired once; :meth:`close` stops them."""

    def __init__(
        self,
        config: Config,
        answers: Answers,
        store: Store | None = None,
        geo: GeoLookup | None = None,
        clock: Callable[[], float] = time.time,
        background_purge: bool = True,
        background_refresh: bool = True,
        admission: AdmissionHook | None = None,
    ):
        self.config = config
        self.answers = answers
        self.clock = clock
        self.store = store if store is not None else config.open_store()
        # A store handed in (tests, tools) applies this collector's rule too.
        self.store.lifetime = config.policy().lifetime
        self.geo = geo if geo is not None else GeoLookup(config.geoip)
        # Refused reports, counted in memory; the writer adds them to its commits.
        self.refusals = Refusals(clock)
        # The writer commits through a wrapper that times commits for /metrics.
        self.writer = BatchWriter(
            metrics.InstrumentedStore(self.store, lambda: self.writer.depth()),
            tally=self.refusals,
            busy_wait=BUSY_WAIT,
        )
        # The admission policy of issue 13 unless the caller brings its own hook;
        # self.sources is None then (a custom hook keeps its own state).
        self.sources: Admission | None = None
        if admission is None:
            self.sources = admission = store_admission(
                self.store, self.writer, config.policy(), clock, config.ack_timeout
            )
        self.intake = self._intake(admission)
        self.publisher = Publisher(
            self.store,
            config.min_group,
            clock,
            history_days=max(1, min(HISTORY_DAYS, int(config.retention_days))),
            cache_seconds=config.stats_cache,
            refresh=None if background_refresh else self.store.refresh,
        )
        self.archiver = Archiver(
            self.store,
            self.publisher.documents,
            exports.export_names(),
            config.min_group,
            config.max_age_seconds,
        )
        self.limiter = RateLimiter()
        self.metrics = metrics.registry(self.publisher.active)
        self.loops = Loops()
        if background_purge:
            self.loops.every(
                "purge",
                config.purge_interval,
                (self._purge_logged, "Retention purge failed"),
                (self.housekeeping, "Admission housekeeping failed"),
            )
        if background_refresh:
            self.loops.every(
                "refresh",
                config.refresh_interval,
                (self._refresh, "Rollup refresh failed"),
                (self.archive, "Archiving failed"),
                (self._flush_refusals, "Writing refused reports' counts failed"),
            )

    def _intake(self, admission: AdmissionHook | None) -> Intake:
        """The intake, told what the built-in admission needs to hear from it
        (decided reports whose instance the writer created); the rest it hears
        from the writer (``store_admission``)."""
        sources = self.sources
        return Intake(
            self.config,
            self.clock,
            self.geo,
            self.writer,
            admission,
            refused=self.refusals.add,
            recreated=sources.recreated if sources is not None else None,
        )

    def _refresh(self) -> None:
        self.store.refresh(self.clock(), budget=REFRESH_BUDGET)

    def archive(self, now: float | None = None) -> list[str]:
        """Write what the dated archive is due (the refresher's step after each
        refresh); ``<date>/<name>`` of each file written."""
        return self.archiver.run(self.clock() if now is None else now)

    def _flush_refusals(self) -> None:
        # Refusals counted since the last commit reach the ledger within an
        # interval even when no report arrives to commit them with.
        if self.refusals.pending():
            self.writer.flush()

    def purge(self, now: float | None = None) -> int:
        """Delete everything older than the retention period; returns rows deleted."""
        now = self.clock() if now is None else now
        future = self.writer.purge(now - self.config.retention_seconds, now)
        return future.result(timeout=max(self.config.ack_timeout, 60.0))

    def _purge_logged(self) -> None:
        deleted = self.purge()
        if deleted:
            log.info("Retention purge removed %d rows", deleted)

    def housekeeping(self) -> None:
        """Admission upkeep, with the retention purge: hold what bursting sources
        slipped past the hold at ingest, destroy the source keys of past days."""
        if self.sources is not None:
            destroyed = self.sources.rotate()
            if destroyed:
                log.info("Destroyed the source keys of %d past days", destroyed)

    def close(self) -> None:
        self.loops.close()
        self.writer.close()
        self.store.close()
        self.geo.close()


def get_collector(app: Flask | None = None) -> Collector:
    """The collector of ``app`` (default: the app of the current request)."""
    return (app or current_app).extensions[EXTENSION]
