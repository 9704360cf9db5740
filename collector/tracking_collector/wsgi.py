"""WSGI entry point for production servers: ``gunicorn tracking_collector.wsgi:app``.

Configuration comes from TRACKING_COLLECTOR_* environment variables.
"""

from .app import create_app
from .settings import Config

app = create_app(Config.from_env())
