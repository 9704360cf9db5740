"""Prometheus metrics of the collector (``GET /metrics``), multi-process aware.

Under gunicorn every worker is a process with its own counters. With
``PROMETHEUS_MULTIPROC_DIR`` set (``gunicorn_conf`` sets it up before any worker
starts and removes a dead worker's live gauges), prometheus_client keeps each
process's values in files there and a scrape, whichever worker answers it, adds
them up with ``MultiProcessCollector``. Without it (``tracking-collector serve``,
tests) the process's own registry is read.

Labels are bounded on purpose: refusals by our own error code, never by anything a
client chooses (event names, ids), so a client cannot grow the series without end.
The fleet gauges are the published figures' (``Publisher.active``), read when
scraped.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from ..ingest.validation import ValidationError

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REPORTS_ACCEPTED = Counter(
    "tracking_collector_reports_accepted",
    "Reports validated and committed to the store",
)
REPORTS_REFUSED = Counter(
    "tracking_collector_reports_refused",
    "Reports refused, by error code of the answer",
    ["reason"],
)
QUEUE_DEPTH = Gauge(
    "tracking_collector_writer_queue_depth",
    "Operations waiting for the writer when it started its latest commit",
    multiprocess_mode="livesum",
)
COMMIT_SECONDS = Histogram(
    "tracking_collector_commit_seconds",
    "Duration of one writer commit (a batch of reports)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
OWN_DATA = Counter(
    "tracking_collector_own_data_requests",
    "GET /track/<id>/ answers, by result",
    ["result"],
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class InstrumentedStore:
    """Wraps the store the writer commits to: times each commit, samples the queue.

    Everything else passes through unchanged, so the writer cannot tell the
    difference.
    """

    def __init__(self, store: Any, depth: Callable[[], int] = lambda: 0):
        self._store = store
        self._depth = depth

    def add_many(self, reports: Sequence[Any], counts: Sequence[Any] = ()) -> Any:
        QUEUE_DEPTH.set(self._depth())
        started = time.perf_counter()
        try:
            return self._store.add_many(reports, counts)
        finally:
            # Whatever the commit did, the timer must not change what the writer
            # sees: a failure here after a commit would look like a failed commit
            # (and the batch would be written again).
            try:
                COMMIT_SECONDS.observe(time.perf_counter() - started)
            except Exception:
                log.exception("Could not time a commit")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class FleetCollector:
    """Active-instance gauges read from the store at scrape time."""

    def __init__(self, active: Callable[[], dict[str, int | None]]):
        self._active = active

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "tracking_collector_active_instances",
            "Public instances active in the window, as published (no sample while"
            " the small-group rule hides the count)",
            labels=["window"],
        )
        for window, value in self._active().items():
            if value is not None:
                gauge.add_metric([window], value)
        yield gauge


class _ProcessMetrics:
    """The process's own metrics (single-process mode)."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


def registry(active: Callable[[], dict[str, int | None]]) -> CollectorRegistry:
    """The registry a scrape reads: the collector's metrics plus the fleet gauges."""
    reg = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(reg)
    else:
        reg.register(_ProcessMetrics())
    reg.register(FleetCollector(active))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    return generate_latest(reg)


def counted(
    record: Callable[..., None], refused: Callable[[str], None] = lambda code: None
) -> Callable[..., None]:
    """Count what ``record`` (the one function every report goes through) answers;
    ``refused`` is told each refusal's code too (the transparency ledger's tally)."""

    @functools.wraps(record)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            record(*args, **kwargs)
        except ValidationError as exc:
            REPORTS_REFUSED.labels(exc.code).inc()
            refused(exc.code)
            raise
        REPORTS_ACCEPTED.inc()

    return wrapper
