"""A plugin's page (``/plugins/<id>``): its current figures, adoption per day,
versions over time, install and uninstall events, and its badge with the snippet a
README needs. Server-rendered from ``/api/plugins/<id>``'s document like the
dashboard: inline SVG, no script, nothing loaded from elsewhere.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from . import charts
from .badge import flat
from .dashboard import CSS

PLUGIN_REPOSITORY = "https://plugins.octoprint.org/plugins/"


def _tile(value: Any, caption: str) -> str:
    shown = "–" if value is None else str(value)
    return f'<div class="tile"><b>{escape(shown)}</b><span>{escape(caption)}</span></div>'


def _tiles(current: dict[str, Any]) -> str:
    week, month = current.get("7d") or {}, current.get("30d") or {}
    return (
        '<div class="tiles">'
        + _tile(week.get("instances"), "active instances, last 7 days")
        + _tile(month.get("instances"), "active instances, last 30 days")
        + _tile(month.get("install_events"), "new installations, last 30 days")
        + "</div>"
    )


def _versions_now(current: dict[str, Any]) -> str:
    """The 30-day versions of the plugin_stats entry, with its remainder."""
    entry = current.get("30d") or {}
    rows = [
        {"key": version, "instances": value["instances"]}
        for version, value in (entry.get("versions") or {}).items()
    ]
    other, unknown = (
        (entry.get(f"versions_{name}") or {}).get("instances")
        for name in ("other", "unknown")
    )
    return charts.bar_chart(rows, "Versions in use (last 30 days)", other, unknown)


def _events(days: list[dict[str, Any]], min_group: int) -> str:
    shown = [d for d in days if "install_events" in d or "uninstall_events" in d]
    title = "Install and uninstall events per day"
    if not shown:
        text = f"No day had {min_group} or more events to show."
        return charts.card(title, f'<p class="empty">{escape(text)}</p>')
    body = "".join(
        f"<tr><td>{escape(d['day'])}</td><td>{d.get('install_events', '–')}</td>"
        f"<td>{d.get('uninstall_events', '–')}</td></tr>"
        for d in reversed(shown)
    )
    table = (
        "<table><thead><tr><th>day</th><th>installs</th><th>uninstalls</th></tr>"
        f"</thead><tbody>{body}</tbody></table>"
    )
    return charts.card(title, table)


def _badge(plugin: str, badge: tuple[str, str, str], base_url: str) -> str:
    svg_url = f"{base_url}badge/{quote(plugin)}.svg"
    endpoint = f"{base_url}badge/{quote(plugin)}.json"
    shields = "https://img.shields.io/endpoint?url=" + quote(endpoint, safe="")
    snippets = (
        f"![{badge[0]}]({svg_url})",
        f"![{badge[0]}]({shields})",
    )
    code = "".join(f"<pre>{escape(s)}</pre>" for s in snippets)
    return charts.card(
        "Badge for a README",
        f'<p class="badge">{flat(*badge)}</p>'
        '<p class="pick">This collector\'s SVG, or the same figure through'
        f" shields.io's endpoint badge:</p>{code}",
    )


def render(page: dict[str, Any], badge: tuple[str, str, str], base_url: str) -> str:
    """The page of ``page`` (``/api/plugins/<id>``); ``badge``: (label, message,
    colour); ``base_url``: the collector's root URL, for the README snippets."""
    plugin, min_group = page["plugin"], page["min_group"]
    days = page["days"]
    notice = ""
    if page["current"]["30d"] is None:
        text = (
            "Nothing is published for this plugin: no such plugin reported, or too"
            f" few instances run it (groups of fewer than {min_group} are not shown)."
        )
        notice = charts.card(
            "Not published", f'<p class="empty">{escape(text)}</p>', wide=True
        )
    history = {"days": [{**d, "versions": d.get("versions", {})} for d in days]}
    cards = [
        notice,
        _tiles(page["current"]),
        charts.plugin_chart(page, "Active instances per day"),
        charts.versions_chart(history, f"Versions of {plugin} per day"),
        _versions_now(page["current"]),
        _events(days, min_group),
        _badge(plugin, badge, base_url),
    ]
    title = f"{plugin}: OctoPrint plugin usage"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}pre{{font-size:12px;white-space:pre-wrap;word-break:break-all;"
        "background:#f3f5f7;padding:6px}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>"
        f"<p>Generated {escape(page['_generated'])} · groups of fewer than {min_group}"
        " instances are not shown · same data as JSON at"
        f' <a style="color:#9ee" href="../api/plugins/{quote(plugin)}">'
        f"/api/plugins/{escape(plugin)}</a> ·"
        f' <a style="color:#9ee" href="{PLUGIN_REPOSITORY}{quote(plugin)}/">'
        "plugin repository</a> · "
        '<a style="color:#9ee" href="../">all statistics</a></p></header>'
        f"<main>{''.join(cards)}</main>"
        "<footer>Anonymous usage data from OctoPrint instances that opted in. Closed"
        " days come from the dated archive (what was published that day).</footer>"
        "</body></html>"
    )
