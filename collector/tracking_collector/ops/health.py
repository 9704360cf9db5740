"""The operator's blueprint: ``/healthz`` and Prometheus ``/metrics``."""

from __future__ import annotations

from flask import Blueprint, Response

from ..runtime import get_collector
from . import metrics

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return get_collector().answers.ok()


@bp.get("/metrics")
def prometheus() -> Response:
    return Response(
        metrics.exposition(get_collector().metrics),
        mimetype=None,
        headers={"Content-Type": metrics.CONTENT_TYPE},
    )
