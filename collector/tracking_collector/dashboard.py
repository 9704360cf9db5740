"""Server-rendered HTML dashboard with inline SVG charts (no JavaScript, no CDN)."""

from __future__ import annotations

from html import escape
from typing import Any

BAR_COLOR = "#13a89e"
SMALL_COLOR = "#b8c4c9"
OUTCOME_COLORS = {"done": "#2e9d4f", "failed": "#d1453b", "cancelled": "#e8a33c"}


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def bar_chart(rows: list[dict], title: str, min_group: int, width: int = 560) -> str:
    """Horizontal bar chart of {key, instances}; masked groups drawn as grey stubs."""
    if not rows:
        return _empty(title)
    bar_h, gap, label_w, value_w = 20, 6, 190, 50
    height = len(rows) * (bar_h + gap) + gap
    top = max([_num(r["instances"]) for r in rows] + [float(min_group)])
    span = width - label_w - value_w
    parts = [
        f'<svg width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    ]
    for i, row in enumerate(rows):
        y = gap + i * (bar_h + gap)
        value = row["instances"]
        label = str(row["key"])
        if len(label) > 28:
            label = label[:27] + "…"
        if isinstance(value, (int, float)):
            w, color = max(2.0, span * value / top), BAR_COLOR
        else:
            # A masked group has no length to show: a fixed stub, explicitly grey.
            w, color = max(2.0, span * (min_group / 2) / top), SMALL_COLOR
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.72:.1f}" text-anchor="end"'
            f' class="lbl">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3"'
            f' fill="{color}"><title>{escape(str(row["key"]))}: {escape(str(value))}'
            f"</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h * 0.72:.1f}" class="val">'
            f"{escape(str(value))}</text>"
        )
    parts.append("</svg>")
    return _card(title, "".join(parts))


def prints_chart(per_day: list[dict], title: str, width: int = 1160) -> str:
    """Stacked columns of finished prints per day (done / failed / cancelled)."""
    if not per_day:
        return _empty(title)
    height, pad_l, pad_b, pad_t = 240, 44, 40, 12
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    totals = [sum(_num(d.get(k)) for k in OUTCOME_COLORS) for d in per_day]
    top = max(totals + [1.0])
    col = plot_w / len(per_day)
    bw = max(3.0, col * 0.7)
    parts = [
        f'<svg width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 10}"'
        f' y2="{pad_t + plot_h}"'
        ' stroke="#889"/>',
        f'<text x="{pad_l - 6}" y="{pad_t + 10}" text-anchor="end" class="val">'
        f"{int(top)}</text>",
        f'<text x="{pad_l - 6}" y="{pad_t + plot_h}" text-anchor="end"'
        ' class="val">0</text>',
    ]
    step = max(1, len(per_day) // 10)
    for i, day in enumerate(per_day):
        x = pad_l + i * col + (col - bw) / 2
        y = pad_t + plot_h
        if day.get("done") is None:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 4}" width="{bw:.1f}" height="4"'
                f' fill="{SMALL_COLOR}"><title>{escape(day["day"])}: fewer than the'
                " minimum group of instances</title></rect>"
            )
        for key, color in OUTCOME_COLORS.items():
            h = plot_h * _num(day.get(key)) / top
            if h <= 0:
                continue
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}"'
                f' fill="{color}"><title>{escape(day["day"])} {key}: {day.get(key)}'
                "</title></rect>"
            )
        if i % step == 0:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{pad_t + plot_h + 16}"'
                ' text-anchor="middle"'
                f' class="val">{escape(day["day"][5:])}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{c}"></i>{k}</span>'
        for k, c in OUTCOME_COLORS.items()
    )
    return _card(title, "".join(parts) + f'<div class="legend">{legend}</div>', wide=True)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def outcome_table(rows: list[dict], title: str) -> str:
    if not rows:
        return _empty(title, wide=True)
    body = "".join(
        "<tr>"
        f"<td>{escape(str(r['version']))}</td><td>{escape(str(r['instances']))}</td>"
        f"<td>{'–' if r['started'] is None else r['started']}</td>"
        f"<td>{'–' if r['done'] is None else r['done']}</td>"
        f"<td>{_pct(r['done_rate'])}</td><td>{_pct(r['failed_rate'])}</td>"
        f"<td>{_pct(r['cancelled_rate'])}</td>"
        "</tr>"
        for r in rows
    )
    table = (
        "<table><thead><tr><th>OctoPrint</th><th>instances</th><th>started</th>"
        "<th>done</th><th>done rate</th><th>failed rate</th><th>cancelled rate</th>"
        f"</tr></thead><tbody>{body}</tbody></table>"
    )
    return _card(title, table, wide=True)


def _card(title: str, content: str, wide: bool = False) -> str:
    cls = "card wide" if wide else "card"
    return f'<section class="{cls}"><h2>{escape(title)}</h2>{content}</section>'


def _empty(title: str, wide: bool = False) -> str:
    return _card(title, '<p class="empty">No data yet.</p>', wide=wide)


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


def render(stats: dict[str, Any], trends: str = "") -> str:
    """The page: current figures, then ``trends`` (the charts of charts.trends)."""
    mg = stats["min_group"]
    day, week = stats["active"]["24h"], stats["active"]["7d"]
    prints = stats["prints"]
    finished_days = [d for d in prints["per_day"]]
    tiles = (
        '<div class="tiles">'
        f'<div class="tile"><b>{escape(str(day["instances"]))}</b>'
        "<span>active instances, last 24 h</span></div>"
        f'<div class="tile"><b>{escape(str(week["instances"]))}</b>'
        "<span>active instances, last 7 days</span></div>"
        f'<div class="tile"><b>{len(stats["countries"])}</b>'
        "<span>countries, last 7 days</span></div>"
        "</div>"
    )
    cards = [
        tiles,
        bar_chart(day["by_version"], "OctoPrint version (active 24 h)", mg),
        bar_chart(week["by_version"], "OctoPrint version (active 7 days)", mg),
        bar_chart(week["by_python"], "Python version (active 7 days)", mg),
        bar_chart(week["by_os"], "Operating system (active 7 days)", mg),
        prints_chart(
            finished_days, f"Finished prints per day (last {prints['window_days']} days)"
        ),
        outcome_table(prints["by_version"], "Print outcomes by OctoPrint version"),
        bar_chart(stats["firmware"], "Printer firmware (active 7 days)", mg),
        bar_chart(stats["countries"], "Countries (active 7 days)", mg),
        bar_chart(stats["plugins"], "Third-party plugins (active 7 days)", mg),
        trends,
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>OctoPrint usage statistics</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body>"
        "<header><h1>OctoPrint usage statistics</h1>"
        f"<p>Generated {escape(stats['generated_at'])} · groups of fewer than {mg}"
        f" instances are shown as &lt;{mg} · same data as JSON at"
        ' <a style="color:#9ee" href="api/stats">/api/stats</a></p></header>'
        f"<main>{''.join(cards)}</main>"
        "<footer>Anonymous usage data from OctoPrint instances that opted in. No IP"
        " addresses are stored.</footer></body></html>"
    )
