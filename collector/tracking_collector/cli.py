"""The ``tracking-collector`` command: the dev server, and the operator's commands.

Every option comes from the settings table (``settings.Config``); every command
that opens the store opens it as the app does (``Config.open_store``: with the
configured lifetime rule, which release and copy apply when they recompute).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import click
from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_app
from .ingest.validation import redact_ids
from .runtime import get_collector
from .settings import Config, options
from .store import Store
from .trust import admin

log = logging.getLogger(__name__)


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
        path = redact_ids(path.split("?", 1)[0])
        self.log("info", '"%s %s" %s', getattr(self, "command", "-"), path, code)


@click.group()
def main() -> None:
    """OctoPrint usage collector."""


@main.command()
@options("serve")
def serve(**values: Any) -> None:
    """Run the collector with the built-in threaded server (development, demos).

    For production run it under gunicorn, see the README.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    # Settings without a flag (the admin token, ...) come from the environment.
    config = Config.from_env(**values)
    app = create_app(config)
    server = make_server(
        config.host,
        config.port,
        app,
        threaded=True,
        request_handler=PrivateRequestHandler,
    )

    def _stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    click.echo(
        f"tracking-collector listening on http://{config.host}:{server.port}/", err=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        get_collector(app).close()


@contextlib.contextmanager
def _store(values: dict[str, Any], db: str | None = None) -> Iterator[Store]:
    """The configured store (or the one at ``db``), closed afterwards."""
    store = Config.from_env(**values).open_store(db)
    try:
        yield store
    finally:
        store.close()


@main.command()
@options("store")
def purge(**values: Any) -> None:
    """Delete data older than the retention period, then exit."""
    config = Config.from_env(**values)
    with _store(values) as store:
        deleted = store.purge(time.time() - config.retention_seconds)
    click.echo(f"purged {deleted} rows")


@main.command()
@options("store")
@click.option(
    "--to",
    "target",
    required=True,
    help="Empty destination store: a postgresql:// URL or a SQLite file.",
)
def copy(target: str, **values: Any) -> None:
    """Copy all data from --db into another store (e.g. SQLite to PostgreSQL)."""
    with _store(values) as source, _store(values, target) as destination:
        copied = source.copy_to(destination)
    click.echo(", ".join(f"{table}: {n}" for table, n in copied.items()))


@main.command()
@options("store")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def suspects(as_json: bool, **values: Any) -> None:
    """List the held cohorts: source hash, instances, first/last seen, reasons and
    the plugins they push."""
    with _store(values) as store:
        rows = admin.cohort_rows(store.cohorts())
    click.echo(json.dumps(rows, indent=2) if as_json else admin.text_table(rows))


@main.command()
@options("store")
@click.argument("cohort")
def release(cohort: str, **values: Any) -> None:
    """Put a held cohort into the public numbers (its rollups are recomputed)."""
    with _store(values) as store:
        n = store.release_cohort(cohort)
    _decision("Released", cohort, n)


@main.command("purge-cohort")
@options("store")
@click.argument("cohort")
def purge_cohort(cohort: str, **values: Any) -> None:
    """Delete every held instance of a cohort and all its data (its public
    instances stay)."""
    with _store(values) as store:
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
