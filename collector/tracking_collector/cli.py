"""The ``tracking-collector`` command: run the dev server or purge old data."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Iterator

import click
from werkzeug.serving import WSGIRequestHandler, make_server

from . import admin
from .app import create_app, get_collector
from .config import DEFAULT_DB, ENV_PREFIX, Config
from .store import DEFAULT_POOL_SIZE, Store, open_store

log = logging.getLogger(__name__)

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
            default=Config.retention_days,
            show_default=True,
            help="Delete reports older than this.",
        ),
        click.option(
            "--min-lifetime",
            envvar=ENV_PREFIX + "MIN_LIFETIME",
            type=click.FloatRange(min=0),
            default=Config.min_lifetime,
            show_default=True,
            help="Seconds from first to last report below which a silent instance"
            " stays out of trends.",
        ),
        click.option(
            "--gone-after",
            envvar=ENV_PREFIX + "GONE_AFTER",
            type=click.FloatRange(min=0),
            default=Config.gone_after,
            show_default=True,
            help="Seconds of silence after which a short-lived instance counts as gone.",
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
    "--host", envvar=ENV_PREFIX + "HOST", default=Config.host, show_default=True
)
@click.option(
    "--port", envvar=ENV_PREFIX + "PORT", type=int, default=Config.port, show_default=True
)
@click.option(
    "--min-group",
    envvar=ENV_PREFIX + "MIN_GROUP",
    type=click.IntRange(min=1),
    default=Config.min_group,
    show_default=True,
    help="Groups with fewer instances are shown as '<N'.",
)
@click.option(
    "--purge-interval",
    envvar=ENV_PREFIX + "PURGE_INTERVAL",
    type=click.FloatRange(min=0, min_open=True),
    default=Config.purge_interval,
    show_default=True,
    help="Seconds between background retention purges.",
)
@click.option(
    "--synchronous",
    envvar=ENV_PREFIX + "SYNCHRONOUS",
    type=click.Choice(["NORMAL", "FULL"], case_sensitive=False),
    default=Config.synchronous,
    show_default=True,
    help="NORMAL: an acknowledged report survives a crash of the collector; FULL:"
    " also a power cut or OS crash (SQLite synchronous; PostgreSQL"
    " synchronous_commit off / server default).",
)
@click.option(
    "--refresh-interval",
    envvar=ENV_PREFIX + "REFRESH_INTERVAL",
    type=click.FloatRange(min=0, min_open=True),
    default=Config.refresh_interval,
    show_default=True,
    help="Seconds between rollup refreshes (the dashboard lags ingest by this much).",
)
@click.option(
    "--stats-cache",
    envvar=ENV_PREFIX + "STATS_CACHE",
    type=click.FloatRange(min=0),
    default=Config.stats_cache,
    show_default=True,
    help="Seconds a computed /api/stats answer is reused (0: none).",
)
@click.option(
    "--max-age-days",
    envvar=ENV_PREFIX + "MAX_AGE_DAYS",
    type=click.FloatRange(min=0),
    default=Config.max_age_days,
    show_default=True,
    help="How far the 'age' field may date a report back.",
)
@click.option(
    "--new-ids-per-source",
    envvar=ENV_PREFIX + "NEW_IDS_PER_SOURCE",
    type=click.IntRange(min=0),
    default=Config.new_ids_per_source,
    show_default=True,
    help="New instance ids one network may create per UTC day before its new ids"
    " are held (0: off).",
)
@click.option(
    "--plausibility/--no-plausibility",
    envvar=ENV_PREFIX + "PLAUSIBILITY",
    default=Config.plausibility,
    show_default=True,
    help="Hold instances that report impossible environments.",
)
def serve(
    db,
    pool_size,
    retention_days,
    min_lifetime,
    gone_after,
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
    new_ids_per_source,
    plausibility,
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
        new_ids_per_source=new_ids_per_source,
        min_lifetime=min_lifetime,
        gone_after=gone_after,
        plausibility=plausibility,
        # Only from the environment: a command-line token would show in ps.
        admin_token=os.environ.get(ENV_PREFIX + "ADMIN_TOKEN") or None,
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
def purge(db, pool_size, retention_days, min_lifetime, gone_after) -> None:
    """Delete data older than the retention period, then exit."""
    import time

    with _store(db, pool_size, min_lifetime, gone_after) as store:
        deleted = store.purge(time.time() - retention_days * 86400.0)
    click.echo(f"purged {deleted} rows")


@main.command()
@_options
@click.option(
    "--to",
    "target",
    required=True,
    help="Empty destination store: a postgresql:// URL or a SQLite file.",
)
def copy(db, pool_size, retention_days, min_lifetime, gone_after, target) -> None:
    """Copy all data from --db into another store (e.g. SQLite to PostgreSQL)."""
    with _store(db, pool_size, min_lifetime, gone_after) as source:
        # The destination's rollups are recomputed: under the configured rule.
        with _store(target, pool_size, min_lifetime, gone_after) as destination:
            copied = source.copy_to(destination)
    click.echo(", ".join(f"{table}: {n}" for table, n in copied.items()))


@contextlib.contextmanager
def _store(
    db: str, pool_size: int, min_lifetime: float, gone_after: float
) -> Iterator[Store]:
    """The store, with the configured lifetime rule (release and copy recompute
    rollups, which leave ephemeral instances out)."""
    store = open_store(db, pool_size=pool_size)
    store.lifetime = (min_lifetime, gone_after)
    try:
        yield store
    finally:
        store.close()


@main.command()
@_options
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def suspects(db, pool_size, retention_days, min_lifetime, gone_after, as_json) -> None:
    """List the held cohorts: source hash, instances, first/last seen, reasons and
    the plugins they push."""
    with _store(db, pool_size, min_lifetime, gone_after) as store:
        rows = admin.cohort_rows(store.cohorts())
    click.echo(json.dumps(rows, indent=2) if as_json else admin.text_table(rows))


@main.command()
@_options
@click.argument("cohort")
def release(db, pool_size, retention_days, min_lifetime, gone_after, cohort) -> None:
    """Put a held cohort into the public numbers (its rollups are recomputed)."""
    with _store(db, pool_size, min_lifetime, gone_after) as store:
        n = store.release_cohort(cohort)
    _decision("Released", cohort, n)


@main.command("purge-cohort")
@_options
@click.argument("cohort")
def purge_cohort(db, pool_size, retention_days, min_lifetime, gone_after, cohort) -> None:
    """Delete every instance of a cohort and all its data."""
    with _store(db, pool_size, min_lifetime, gone_after) as store:
        n = store.purge_cohort(cohort)
    _decision("Purged", cohort, n)


def _decision(verb: str, cohort: str, n: int) -> None:
    # Logged for the record (cohort and count; a cohort is a hash, never an address).
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    log.info("%s cohort %s: %d instances", verb, cohort, n)
    click.echo(f"{verb.lower()} {n} instances of cohort {cohort}")
    if not n:
        raise click.ClickException(f"cohort {cohort!r} has no instance to act on")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
