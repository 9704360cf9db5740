"""The ``tracking-collector`` command: run the dev server or purge old data."""

from __future__ import annotations

import logging
import re
import signal
import sys

import click
from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_app, get_collector
from .config import DEFAULT_DB, ENV_PREFIX, Config
from .store import DEFAULT_POOL_SIZE, open_store

_UUID_IN_PATH = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class PrivateRequestHandler(WSGIRequestHandler):
    """Request handler whose log lines carry neither the client IP nor the instance id.

    Privacy: the peer address is personal data and must not reach any log. The
    instance id and query string are dropped as well, so a pasted log never links
    an installation to its reports.
    """

    def log(self, type: str, message: str, *args) -> None:
        # Same as Werkzeug's, minus the client address it puts first. (Overriding
        # address_string instead would also blank REMOTE_ADDR in the WSGI environ.)
        log = getattr(
            logging.getLogger("werkzeug"), type, logging.getLogger("werkzeug").info
        )
        log(f"[{self.log_date_time_string()}] {message}", *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "") or ""
        path = _UUID_IN_PATH.sub("<id>", path.split("?", 1)[0])
        self.log("info", '"%s %s" %s', getattr(self, "command", "-"), path, code)


def _options(f):
    opts = [
        click.option(
            "--db",
            envvar=ENV_PREFIX + "DB",
            default=DEFAULT_DB,
            show_default=True,
            help="SQLite database file, or a postgresql:// URL (several collectors"
            " can share one PostgreSQL).",
        ),
        click.option(
            "--pool-size",
            envvar=ENV_PREFIX + "POOL_SIZE",
            type=click.IntRange(min=1),
            default=DEFAULT_POOL_SIZE,
            show_default=True,
            help="PostgreSQL connections per process (ignored for SQLite).",
        ),
        click.option(
            "--retention-days",
            envvar=ENV_PREFIX + "RETENTION_DAYS",
            type=click.FloatRange(min=0, min_open=True),
            default=90.0,
            show_default=True,
            help="Delete reports older than this.",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@click.group()
def main() -> None:
    """OctoPrint usage collector."""


@main.command()
@_options
@click.option(
    "--geoip",
    envvar=ENV_PREFIX + "GEOIP",
    default=None,
    help="GeoLite2 City .mmdb file (country/city are 'unknown' without).",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    envvar=ENV_PREFIX + "TRUSTED_PROXIES",
    multiple=True,
    help="Proxy IP or CIDR whose X-Forwarded-For is believed "
    "(repeatable; env: comma separated).",
)
@click.option(
    "--host", envvar=ENV_PREFIX + "HOST", default="127.0.0.1", show_default=True
)
@click.option(
    "--port", envvar=ENV_PREFIX + "PORT", type=int, default=8989, show_default=True
)
@click.option(
    "--min-group",
    envvar=ENV_PREFIX + "MIN_GROUP",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Groups with fewer instances are shown as '<N'.",
)
@click.option(
    "--purge-interval",
    envvar=ENV_PREFIX + "PURGE_INTERVAL",
    type=click.FloatRange(min=0, min_open=True),
    default=3600.0,
    show_default=True,
    help="Seconds between background retention purges.",
)
@click.option(
    "--synchronous",
    envvar=ENV_PREFIX + "SYNCHRONOUS",
    type=click.Choice(["NORMAL", "FULL"], case_sensitive=False),
    default="NORMAL",
    show_default=True,
    help="NORMAL: an acknowledged report survives a crash of the collector; FULL:"
    " also a power cut or OS crash (SQLite synchronous; PostgreSQL"
    " synchronous_commit off / server default).",)
@click.option(
    "--refresh-interval",
    envvar=ENV_PREFIX + "REFRESH_INTERVAL",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds between rollup refreshes (the dashboard lags ingest by this much).",
)
@click.option(
    "--stats-cache",
    envvar=ENV_PREFIX + "STATS_CACHE",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds a computed /api/stats answer is reused (0: none).",
)
@click.option(
    "--max-age-days",
    envvar=ENV_PREFIX + "MAX_AGE_DAYS",
    type=click.FloatRange(min=0),
    default=7.0,
    show_default=True,
    help="How far the 'age' field may date a report back.",
)
def serve(
    db,
    pool_size,
    retention_days,
    geoip,
    trusted_proxies,
    host,
    port,
    min_group,
    purge_interval,
    synchronous,
    refresh_interval,
    stats_cache,
    max_age_days,
) -> None:
    """Run the collector with the built-in threaded server (development, demos).

    For production run it under gunicorn, see the README.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    proxies = [
        p.strip() for spec in trusted_proxies for p in spec.split(",") if p.strip()
    ]
    config = Config(
        db=db,
        pool_size=pool_size,
        geoip=geoip,
        retention_days=retention_days,
        trusted_proxies=proxies,
        min_group=min_group,
        purge_interval=purge_interval,
        synchronous=synchronous,
        refresh_interval=refresh_interval,
        stats_cache=stats_cache,
        max_age_days=max_age_days,
        host=host,
        port=port,
    )
    app = create_app(config)
    server = make_server(
        host, port, app, threaded=True, request_handler=PrivateRequestHandler
    )

    def _stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    click.echo(f"tracking-collector listening on http://{host}:{server.port}/", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        get_collector(app).close()


@main.command()
@_options
def purge(db, pool_size, retention_days) -> None:
    """Delete data older than the retention period, then exit."""
    import time

    store = open_store(db, pool_size=pool_size)
    try:
        deleted = store.purge(time.time() - retention_days * 86400.0)
    finally:
        store.close()
    click.echo(f"purged {deleted} rows")


@main.command()
@_options
@click.option(
    "--to",
    "target",
    required=True,
    help="Empty destination store: a postgresql:// URL or a SQLite file.",
)
def copy(db, pool_size, retention_days, target) -> None:
    """Copy all data from --db into another store (e.g. SQLite to PostgreSQL)."""
    source = open_store(db, pool_size=pool_size)
    try:
        destination = open_store(target, pool_size=pool_size)
        try:
            copied = source.copy_to(destination)
        finally:
            destination.close()
    finally:
        source.close()
    click.echo(", ".join(f"{table}: {n}" for table, n in copied.items()))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
