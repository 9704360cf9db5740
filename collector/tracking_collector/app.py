"""The Flask application factory: one Collector, one blueprint per area.

Privacy decisions are made at the edge (``ingest``): the client address is
resolved (with X-Forwarded-For only from trusted proxies), turned into country and
city, shown to the admission, and dropped before a report is stored.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from .errors import Answers
from .ingest import routes as ingest_routes
from .ingest.fastpath import FastPath
from .ops import health
from .publish import routes as publish_routes
from .runtime import EXTENSION, Collector
from .settings import Config
from .trust import admin
from .web import routes as web_routes

BLUEPRINTS = (
    ingest_routes.bp,  # /track: reports, forgetting, an instance's own data
    publish_routes.bp,  # /api/stats, /export (+ archive), /api/history, /api/plugins,
    # /api/transparency
    web_routes.bp,  # / (dashboard), /plugins/<id>, /badge/<id>, /openapi.json
    admin.bp,  # /admin/suspects
    health.bp,  # /healthz, /metrics
)


def create_app(
    config: Config | None = None, *, fast_path: bool = True, **parts: Any
) -> Flask:
    """The collector's Flask app. ``parts`` replace or switch off what the app runs
    on, as :class:`~.runtime.Collector` takes them: ``store``, ``geo``, ``clock``,
    ``background_purge``, ``background_refresh``, ``admission`` (the ingest hook)."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.json.sort_keys = False
    # "/track//ping" must be a plain 404, not a redirect to a merged path.
    app.url_map.merge_slashes = False
    answers = Answers(app)
    answers.register()
    collector = Collector(config, answers, **parts)
    app.extensions[EXTENSION] = collector
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    if fast_path:
        # Flask.__call__ (what WSGI servers call) goes through app.wsgi_app, so this
        # puts the fast path in front of every request, served or test client.
        app.wsgi_app = FastPath(  # type: ignore[method-assign]
            app.wsgi_app, record=collector.intake.record, answers=answers
        )
    return app
