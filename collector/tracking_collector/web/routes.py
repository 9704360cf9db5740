"""The web blueprint: the dashboard (``/``) and the OpenAPI document."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..runtime import get_collector
from . import dashboard

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
