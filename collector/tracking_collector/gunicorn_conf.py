"""Gunicorn settings for the collector (``-c python:tracking_collector.gunicorn_conf``).

Privacy: the access log format omits the client address (%(h)s) and the request
line (which holds the instance id); only method, status and duration are logged.
``PrivateLogger`` does not even offer those atoms to the format, and is cheaper
than gunicorn's default per request (it also writes the line straight to
gunicorn's own handler instead of building a LogRecord for it).

Several workers share one SQLite file: ``SQLiteStore`` serialises their commits
with an flock, so each worker's writer commits everything that queued up while the
other one was committing. With a ``postgresql://`` database each worker keeps its
own connection pool (``TRACKING_COLLECTOR_POOL_SIZE``) and commits on its own.

Prometheus: every worker keeps its metrics in files under PROMETHEUS_MULTIPROC_DIR
so that /metrics, whichever worker answers, sums all of them. The master sets the
directory up when it starts (a fresh temporary one unless the operator sets it),
before any worker imports prometheus_client, empties it so that no stale worker
counts, and drops a dead worker's live gauges when it exits.
"""

import glob
import logging
import os
import shutil
import tempfile
import traceback

from gunicorn.glogging import Logger

from tracking_collector.settings import Config

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_created_metrics_dir = []

# TRACKING_COLLECTOR_BIND, _WORKERS, _THREADS (see settings.py). Loading them here
# also checks every other setting once, in the master, before a worker starts.
# Importing the settings imports neither Flask nor prometheus_client (see the
# package's __init__: the master must not, before on_starting).
_settings = Config.from_env()
bind = _settings.bind
workers = _settings.workers
threads = _settings.threads
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


class PrivateLogger(Logger):
    """Gunicorn's logger with access-log atoms that cannot identify a client.

    Only method, status, size, durations, protocol, pid and time are offered; the
    address (%(h)s), request line, path, query, headers and environ all print as
    "-", whatever access_log_format says. Building just these few atoms is also
    much cheaper than gunicorn's full set (every header and environ entry) on each
    request.
    """

    def atoms(self, resp, req, environ, request_time):
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        seconds, micros = request_time.seconds, request_time.microseconds
        atoms = {
            "m": environ.get("REQUEST_METHOD"),
            "s": status,
            "b": str(sent) if sent is not None else "-",
            "B": sent,
            "H": environ.get("SERVER_PROTOCOL"),
            "T": seconds,
            "D": seconds * 1000000 + micros,
            "M": seconds * 1000 + micros // 1000,
            "L": f"{seconds}.{micros:06d}",
            "p": f"<{os.getpid()}>",
        }
        if "%(t)s" in self.cfg.access_log_format:
            atoms["t"] = self.now()
        return atoms

    def access(self, resp, req, environ, request_time):
        """Write the access line straight to gunicorn's own plain handler.

        Same line as ``Logger.access`` (format % atoms, newline, flushed), without
        building a LogRecord and walking the stack for it on every request. Any
        other logging setup (logconfig, syslog, filters, extra handlers) goes
        through the standard path.
        """
        if not self.access_log_enabled:
            return
        handler = self._plain_access_handler()
        if handler is None:
            super().access(resp, req, environ, request_time)
            return
        try:
            line = self.cfg.access_log_format % self.atoms_wrapper_class(
                self.atoms(resp, req, environ, request_time)
            )
            handler.acquire()
            try:
                stream = handler.stream
                stream.write(line + handler.terminator)
                stream.flush()
            finally:
                handler.release()
        except Exception:
            self.error(traceback.format_exc())

    def _plain_access_handler(self):
        log = self.access_log
        handlers = log.handlers
        if (
            len(handlers) != 1
            or log.propagate
            or log.filters
            or not log.isEnabledFor(logging.INFO)
        ):
            return None
        handler = handlers[0]
        if (
            type(handler) not in (logging.StreamHandler, logging.FileHandler)
            or not getattr(handler, "_gunicorn", False)
            or handler.filters
            or handler.level > logging.INFO
            or getattr(handler.formatter, "_fmt", None) != "%(message)s"
            or handler.stream is None
        ):
            return None
        return handler


logger_class = PrivateLogger


def worker_exit(server, worker):
    """Finish queued writes and close the database when a worker stops."""
    from tracking_collector.runtime import get_collector
    from tracking_collector.wsgi import app

    get_collector(app).close()


def on_starting(server):
    """Set up the metrics directory in the master, before any worker is forked.

    Workers inherit the variable and import prometheus_client only after the fork
    (no preload). Done here rather than at import, so that importing this module
    (tests, tools) leaves the environment alone. Files left by an earlier run would
    be summed in: start from zero.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        directory = tempfile.mkdtemp(prefix="tracking-collector-metrics-")
        os.environ[MULTIPROC_ENV] = directory
        _created_metrics_dir.append(directory)
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def on_exit(server):
    """Remove the metrics directory if this config made it."""
    for directory in _created_metrics_dir:
        shutil.rmtree(directory, ignore_errors=True)


def child_exit(server, worker):
    """Drop the dead worker's live gauges (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
