"""The public data's blueprint: /api/stats, /export/<name>.json, /api/history/*,
/export/archive/*, /api/plugins/<id>, /api/transparency.

Exports, the archive, history and plugin pages answer with
``Access-Control-Allow-Origin: *``: their readers (data.octoprint.org's charts,
plugin dashboards) fetch them from the browser. So does every error answer under
/export/: without it a browser reports a failed request as a CORS error and the
reader never sees the 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .. import plugins
from ..errors import ApiError
from ..runtime import get_collector
from ..timefmt import parse_day
from . import archive
from .transparency import DEFAULT_DAYS

CORS = {"Access-Control-Allow-Origin": "*"}
# An archived file never changes: caches may keep it for a year without asking.
IMMUTABLE = "public, max-age=31536000, immutable"

bp = Blueprint("publish", __name__)


def _public(document: dict[str, Any]) -> Response:
    """A public document: any web page may read it. Only aggregated, folded
    figures get this header; an instance's own data never does."""
    response = jsonify(document)
    response.headers.update(CORS)
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


def plugin_id_of(plugin_id: str) -> str:
    """A plugin id from a URL, lower-cased; 400 for anything that is not one."""
    plugin_id = plugin_id.lower()
    if not plugins.valid_id(plugin_id):
        raise ApiError(400, "invalid_plugin_id", "plugin id must match [a-z0-9_.-]")
    return plugin_id


@bp.get("/api/history/plugins/<plugin_id>")
def history_plugin(plugin_id: str) -> Response:
    return _public(get_collector().publisher.plugin(plugin_id_of(plugin_id)))


@bp.get("/api/history/prints")
def history_prints() -> Response:
    return _public(get_collector().publisher.prints())


@bp.get("/api/plugins/<plugin_id>")
def plugin_page(plugin_id: str) -> Response:
    return _public(get_collector().publisher.plugin_page(plugin_id_of(plugin_id)))


@bp.get("/api/transparency")
def transparency() -> Response:
    publisher = get_collector().publisher
    days = request.args.get("days", str(DEFAULT_DAYS))
    # ASCII digits only: str.isdigit() also takes "²", which int() cannot read.
    if not (days.isascii() and days.isdigit()) or not (
        1 <= int(days) <= publisher.history_days
    ):
        raise ApiError(400, "invalid_days", f"days must be 1 to {publisher.history_days}")
    return _public(publisher.transparency(int(days)))


@bp.get("/export/archive/")
def archive_index() -> Response:
    base = request.script_root + "/export/archive/"
    return _public(archive.index(get_collector().publisher.archive_files(), base))


@bp.get("/export/archive/SHA256SUMS")
def archive_sums() -> Response:
    text = archive.sha256sums(get_collector().publisher.archive_files())
    return Response(text, mimetype="text/plain")


@bp.get("/export/archive/<day>/<name>.json")
def archive_file(day: str, name: str) -> Response:
    number = parse_day(day)
    found = None
    if number is not None and archive.valid_name(name):
        found = get_collector().publisher.archive_file(number, name)
    if found is None:
        raise ApiError(404, "unknown_archive_file", "no such archived file")
    response = Response(found.body, mimetype="application/json")
    response.set_etag(found.sha256)
    response.headers["Cache-Control"] = IMMUTABLE
    return response.make_conditional(request)
