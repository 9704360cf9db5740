"""Gunicorn settings for the collector (``-c python:tracking_collector.gunicorn_conf``).

Privacy: the access log format omits the client address (%(h)s) and the request
line (which holds the instance id); only method, status and duration are logged.
"""

import os

bind = os.environ.get("TRACKING_COLLECTOR_BIND", "127.0.0.1:8989")
workers = int(os.environ.get("TRACKING_COLLECTOR_WORKERS", "2"))
threads = int(os.environ.get("TRACKING_COLLECTOR_THREADS", "8"))
wsgi_app = "tracking_collector.wsgi:app"
# No --preload: each worker must start its own writer and purge threads.
preload_app = False
accesslog = "-"
access_log_format = '"%(m)s" %(s)s %(b)s %(M)sms'
# Pong reports can be long GET lines on old clients; allow the maximum.
limit_request_line = 8190
# Keep gunicorn from rewriting REMOTE_ADDR from headers; the app applies its own
# trusted-proxy rule (TRACKING_COLLECTOR_TRUSTED_PROXIES).
forwarded_allow_ips = ""
graceful_timeout = 30


def worker_exit(server, worker):
    """Finish queued writes and close the database when a worker stops."""
    from tracking_collector.app import get_collector
    from tracking_collector.wsgi import app

    get_collector(app).close()
