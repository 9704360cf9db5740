"""The dashboard page: current figures, then the trend charts (no script, no CDN)."""

from __future__ import annotations

from html import escape
from typing import Any

from .. import plugins
from ..publish.transparency import DEFAULT_DAYS as TRANSPARENCY_DAYS
from . import charts, transparency

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f3f5f7;color:#1d2a33}
header{background:#0e3a45;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.8;font-size:13px}
main{display:flex;flex-wrap:wrap;gap:16px;padding:20px 28px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);
padding:12px 16px;width:560px} .card.wide{width:1168px}
h2{font-size:15px;margin:0 0 8px;color:#0e3a45}
.tiles{display:flex;gap:16px;width:1200px}
.tile{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);
padding:12px 18px;flex:1} .tile b{display:block;font-size:28px;color:#13a89e}
.tile span{font-size:13px;color:#556}
.lbl{font-size:12px;fill:#1d2a33} .val{font-size:11px;fill:#556}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:right;padding:4px 8px;border-bottom:1px solid #e3e7ea}
th:first-child,td:first-child{text-align:left}
.legend{font-size:12px;margin-top:4px} .key{margin-right:14px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.empty{color:#889;font-size:13px}
.pick{font-size:13px;margin:0 0 8px}
footer{padding:0 28px 24px;font-size:12px;color:#667}
"""


def _bars(stats: dict[str, Any], name: str, title: str, link: str | None = None) -> str:
    """A bar chart of one published map of /api/stats and its siblings (``link``:
    see ``charts.bar_chart``)."""
    return charts.bar_chart(
        stats[name],
        title,
        stats.get(f"{name}_other"),
        stats.get(f"{name}_unknown"),
        link=link,
    )


def _tile(value: Any, label: str) -> str:
    shown = "–" if value is None else escape(str(value))
    return f'<div class="tile"><b>{shown}</b><span>{escape(label)}</span></div>'


def render(stats: dict[str, Any], trends: str = "") -> str:
    """The page: current figures, then ``trends`` (the charts of charts.trends)."""
    mg = stats["min_group"]
    day, week = stats["active"]["24h"], stats["active"]["7d"]
    prints = stats["prints"]
    tiles = (
        '<div class="tiles">'
        + _tile(day.get("instances"), "active instances, last 24 h")
        + _tile(week.get("instances"), "active instances, last 7 days")
        + _tile(len(stats["countries"]), "countries, last 7 days")
        + "</div>"
    )
    cards = [
        tiles,
        _bars(day, "by_version", "OctoPrint version (active 24 h)"),
        _bars(week, "by_version", "OctoPrint version (active 7 days)"),
        _bars(week, "by_python", "Python version (active 7 days)"),
        _bars(week, "by_os", "Operating system (active 7 days)"),
        charts.prints_chart(
            prints["per_day"],
            f"Finished prints per day (last {prints['window_days']} days)",
        ),
        charts.outcome_table(
            prints["by_version"],
            "Print outcomes by OctoPrint version",
            prints.get("by_version_other"),
        ),
        _bars(stats, "firmware", "Printer firmware (active 7 days)"),
        _bars(stats, "countries", "Countries (active 7 days)"),
        _bars(stats, "plugins", "Third-party plugins (active 7 days)", link="plugins/"),
        trends,
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>OctoPrint usage statistics</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body>"
        "<header><h1>OctoPrint usage statistics</h1>"
        f"<p>Generated {escape(stats['_generated'])} · groups of fewer than {mg}"
        " instances are not shown on their own but counted in “other”"
        " · same data as JSON at"
        ' <a style="color:#9ee" href="api/stats">/api/stats</a></p></header>'
        f"<main>{''.join(cards)}</main>"
        "<footer>Anonymous usage data from OctoPrint instances that opted in. No IP"
        " addresses are stored.</footer></body></html>"
    )


def trends(
    instance_stats: dict,
    versions: dict,
    prints: dict,
    plugin_ids: list[str],
    plugin_history: dict | None,
) -> str:
    """The trend cards of the dashboard, in page order."""
    days = len(versions["days"])
    chosen = plugin_history["plugin"] if plugin_history else None
    if plugin_history is not None:
        adoption = charts.plugin_chart(
            plugin_history, f"Adoption of {chosen}: active instances per day"
        )
    else:
        adoption = charts.card(
            "Plugin adoption",
            '<p class="empty">Choose a plugin to chart its active instances per day.</p>',
            wide=True,
        )
    form = charts.plugin_form(plugin_ids, chosen)
    return "".join(
        [
            charts.hourly_chart(
                instance_stats, "Unique instances per hour (last 7 days)"
            ),
            charts.versions_chart(
                versions, f"Active instances per day by OctoPrint version ({days} days)"
            ),
            adoption.replace("</h2>", "</h2>" + form, 1),
            charts.prints_chart(prints["days"], f"Print outcomes per day ({days} days)"),
        ]
    )


def page(publisher: Any, plugin_id: str | None) -> str:
    """The whole dashboard from the publisher's documents; ``plugin_id`` (from the
    query string) is charted only if it is a valid plugin id."""
    plugin_id = (plugin_id or "").lower()
    chosen = plugin_id if plugins.valid_id(plugin_id) else None
    shown = publisher.figures()  # one snapshot for the whole page
    cards = trends(
        publisher.export("instance_stats_7d", shown),
        publisher.versions(),
        publisher.prints(shown),
        publisher.popular_plugins(shown),
        publisher.plugin(chosen) if chosen else None,
    )
    days = min(TRANSPARENCY_DAYS, publisher.history_days)
    report = publisher.transparency(days)
    return render(publisher.stats(shown), cards + transparency.section(report))
