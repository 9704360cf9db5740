"""The web blueprint: the dashboard (``/``), plugin pages and badges, and the
OpenAPI document."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..publish import badge
from ..publish.routes import plugin_id_of
from ..runtime import get_collector
from . import dashboard, plugin_page
from .badge import flat

bp = Blueprint("web", __name__)


@functools.lru_cache(maxsize=1)
def load_openapi() -> dict[str, Any]:
    """The OpenAPI document shipped in the package (``openapi.json``), read once."""
    package = __package__.rpartition(".")[0]
    text = resources.files(package).joinpath("openapi.json").read_text("utf-8")
    return json.loads(text)


@bp.get("/")
def index() -> Response:
    html = dashboard.page(get_collector().publisher, request.args.get("plugin"))
    return Response(html, mimetype="text/html")


@bp.get("/openapi.json")
def openapi_doc() -> Response:
    return jsonify(load_openapi())


@bp.get("/plugins/<plugin_id>")
def plugin(plugin_id: str) -> Response:
    plugin_id = plugin_id_of(plugin_id)
    publisher = get_collector().publisher
    html = plugin_page.render(
        publisher.plugin_page(plugin_id),
        publisher.plugin_badge(plugin_id),
        request.url_root,
    )
    return Response(html, mimetype="text/html")


# Badges are fetched by README renderers (GitHub's image proxy, shields.io) that
# cache them anyway; an hour keeps them fresh enough and the collector unbothered.
BADGE_CACHE = f"public, max-age={badge.CACHE_SECONDS}"


@bp.get("/badge/<plugin_id>.svg")
def badge_svg(plugin_id: str) -> Response:
    shown = get_collector().publisher.plugin_badge(plugin_id_of(plugin_id))
    response = Response(flat(*shown), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = BADGE_CACHE
    return response


@bp.get("/badge/<plugin_id>.json")
def badge_json(plugin_id: str) -> Response:
    shown = get_collector().publisher.plugin_badge(plugin_id_of(plugin_id))
    response = jsonify(badge.endpoint(shown))
    response.headers["Cache-Control"] = BADGE_CACHE
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
