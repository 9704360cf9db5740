"""The public data's blueprint: /api/stats, /export/<name>.json, /api/history/*.

Exports and history answer with ``Access-Control-Allow-Origin: *``: their readers
(data.octoprint.org's charts, plugin dashboards) fetch them from the browser. So
does every error answer under /export/: without it a browser reports a failed
request as a CORS error and the reader never sees the 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import plugins
from ..errors import ApiError
from ..runtime import get_collector

bp = Blueprint("publish", __name__)


def _public(document: dict[str, Any]) -> Response:
    """A public document: any web page may read it. Only aggregated, folded
    figures get this header; an instance's own data never does."""
    response = jsonify(document)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.after_app_request
def _exports_readable_anywhere(response: Response) -> Response:
    if request.path.startswith("/export/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/api/stats")
def stats() -> Response:
    return jsonify(get_collector().publisher.stats())


@bp.get("/export/<name>.json")
def export(name: str) -> Response:
    document = get_collector().publisher.export(name)
    if document is None:
        raise ApiError(404, "unknown_export", "no such export")
    return _public(document)


@bp.get("/api/history/versions")
def history_versions() -> Response:
    return _public(get_collector().publisher.versions())


@bp.get("/api/history/plugins/<plugin_id>")
def history_plugin(plugin_id: str) -> Response:
    plugin_id = plugin_id.lower()
    if not plugins.valid_id(plugin_id):
        raise ApiError(400, "invalid_plugin_id", "plugin id must match [a-z0-9_.-]")
    return _public(get_collector().publisher.plugin(plugin_id))


@bp.get("/api/history/prints")
def history_prints() -> Response:
    return _public(get_collector().publisher.prints())
