"""The ``/track`` blueprint: reports in, an instance forgotten, its own data out.

``GET``/``POST /track/<id>/<event>/`` store a report (most of them arrive through
the fast path in front of Flask, which calls the same ``Intake.record``);
``DELETE /track/<id>/`` forgets the instance; ``GET /track/<id>/`` shows what is
stored about it, to whoever knows the id.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..errors import ApiError
from ..ops import metrics
from ..publish import own_data
from ..runtime import get_collector
from . import validation as v

bp = Blueprint("track", __name__)


@bp.route("/track/<instance>/<event>/", methods=["GET", "POST"])
@bp.route("/track/<instance>/<event>", methods=["GET", "POST"])
def report(instance: str, event: str) -> Response:
    if request.method == "HEAD":
        # Flask adds HEAD to GET routes; a HEAD must not record a report.
        raise v.ValidationError(405, "method_not_allowed", "use GET or POST")
    collector = get_collector()
    headers = request.headers
    collector.intake.record(
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
    return collector.answers.ok()


@bp.route("/track/<instance>/", methods=["DELETE"])
@bp.route("/track/<instance>", methods=["DELETE"])
def forget(instance: str) -> Response:
    collector = get_collector()
    collector.intake.forget(instance)
    return collector.answers.ok()


@bp.get("/track/<instance>/")
@bp.get("/track/<instance>")
def own(instance: str) -> Response:
    if request.method == "HEAD":
        raise v.ValidationError(405, "method_not_allowed", "use GET")
    instance = v.instance_id(instance)
    collector = get_collector()
    wait = collector.limiter.retry_after(instance)
    if wait:
        metrics.OWN_DATA.labels("limited").inc()
        raise ApiError(
            429,
            "rate_limited",
            "too many requests, retry later",
            {"Retry-After": str(wait)},
        )
    record = collector.store.instance(instance)
    if record is None:
        metrics.OWN_DATA.labels("unknown").inc()
        raise ApiError(404, "unknown_instance", "nothing is stored for this id")
    metrics.OWN_DATA.labels("served").inc()
    response = jsonify(own_data.document(instance, record))
    # One instance's data: no shared cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response
