"""Quarantine for the operator: held cohorts as rows, the admin page and its token.

The same rows feed ``tracking-collector suspects`` and the admin-only page
``/admin/suspects`` (the blueprint ``bp``). A cohort is the source hash of the day
its instances appeared, so nothing here can lead back to an address.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable
from html import escape
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import NotFound

from ..errors import ApiError
from ..runtime import get_collector
from ..timefmt import minute

TOP_PLUGINS = 8
bp = Blueprint("admin", __name__)


def _top(counts: dict[str, int], limit: int = TOP_PLUGINS) -> list[list]:
    return [[k, v] for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][
        :limit
    ]


def cohort_rows(cohorts: Iterable[Any]) -> list[dict[str, Any]]:
    """Plain rows of held cohorts (from ``Store.cohorts()``), biggest first."""
    return [
        {
            "cohort": c.cohort,
            "instances": c.instances,
            "first_seen": minute(c.first_seen),
            "last_seen": minute(c.last_seen),
            "reasons": dict(sorted(c.reasons.items())),
            "plugins": _top(c.plugins),
        }
        for c in cohorts
    ]


def text_table(rows: list[dict[str, Any]]) -> str:
    """The CLI listing: one block per cohort."""
    if not rows:
        return "no held cohorts"
    lines = []
    for r in rows:
        reasons = ", ".join(f"{k} {v}" for k, v in r["reasons"].items())
        plugins = ", ".join(f"{k} {v}" for k, v in r["plugins"]) or "-"
        lines.append(
            f"{r['cohort'] or '(none)'}  {r['instances']} instances"
            f"  {r['first_seen']} .. {r['last_seen']} UTC\n"
            f"    reasons: {reasons}\n    plugins: {plugins}"
        )
    return "\n".join(lines)


def authorized(token: str | None, authorization: str | None) -> bool:
    """Whether an ``Authorization`` header carries the admin token.

    Accepts ``Bearer <token>`` (scripts) and HTTP Basic with the token as password
    (a browser asks for it). Compared in constant time. Without a configured token
    nothing is authorized: the page does not exist.
    """
    if not token or not authorization:
        return False
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        value = decoded.partition(":")[2]
    elif scheme != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def render_page(rows: list[dict[str, Any]]) -> str:
    """The admin page: a table of held cohorts, how to release or purge them."""
    body = []
    for r in rows:
        reasons = "<br>".join(f"{escape(k)}: {v}" for k, v in r["reasons"].items())
        plugins = "<br>".join(f"{escape(k)}: {v}" for k, v in r["plugins"]) or "–"
        cohort = escape(r["cohort"] or "(none)")
        body.append(
            f"<tr><td><code>{cohort}</code></td><td>{r['instances']}</td>"
            f"<td>{escape(r['first_seen'])}</td><td>{escape(r['last_seen'])}</td>"
            f"<td>{reasons}</td><td>{plugins}</td></tr>"
        )
    table = (
        "<table><thead><tr><th>cohort</th><th>instances</th><th>first seen (UTC)</th>"
        "<th>last seen (UTC)</th><th>reasons</th><th>plugins they push</th></tr>"
        "</thead><tbody>" + "".join(body) + "</tbody></table>"
        if rows
        else "<p>No held cohorts.</p>"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='robots' content='noindex'>"
        "<title>Held cohorts · tracking collector</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:left;vertical-align:top}code{font-size:1.05em}</style></head><body>"
        "<h1>Held cohorts</h1><p>Instances held out of the public numbers, grouped by "
        "the source hash of the day they appeared. Release a cohort into the public "
        "numbers with <code>tracking-collector release &lt;cohort&gt;</code> or delete "
        "it with <code>tracking-collector purge-cohort &lt;cohort&gt;</code>.</p>"
        + table
        + "</body></html>"
    )


@bp.get("/admin/suspects")
def suspects() -> Response:
    collector = get_collector()
    token = collector.config.admin_token
    # Without a configured token the page does not exist, rather than being a
    # page anyone could guess a token for.
    if not token:
        raise NotFound()
    if not authorized(token, request.headers.get("Authorization")):
        raise ApiError(
            401,
            "unauthorized",
            "the admin token is required",
            {"WWW-Authenticate": 'Basic realm="tracking-collector"'},
        )
    rows = cohort_rows(collector.store.cohorts())
    if request.args.get("format") == "json":
        response = jsonify(rows)
    else:
        response = Response(render_page(rows), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
