"""Server-rendered SVG charts and the HTML pieces around them (no JavaScript, no CDN).

Input is what the stats, the exports and the history endpoints publish, already
folded under the small-group rule, so a chart can never show more than the JSON
does: a hidden point is absent and leaves a gap; a map's remainder (folded groups)
and unknown are drawn as grey bars of their own. ``card`` and ``empty`` are the
frames every chart of a page sits in.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from ..timefmt import month_day

BAR_COLOR = "#13a89e"
REST_COLOR = "#8a9ba5"
OUTCOME_COLORS = {"done": "#2e9d4f", "failed": "#d1453b", "cancelled": "#e8a33c"}


def num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def bar_chart(
    rows: list[dict],
    title: str,
    other: int | None = None,
    unknown: int | None = None,
    width: int = 560,
    link: str | None = None,
) -> str:
    """Horizontal bar chart of {key, instances}, then the map's remainder ("other":
    its folded groups) and "unknown" as grey bars where they hold anyone.
    ``link``: the label of each group shown by name links to ``link`` + its key."""
    bars = [(str(r["key"]), r["instances"], BAR_COLOR) for r in rows]
    bars += [
        (label, value, REST_COLOR)
        for label, value in (("other", other), ("unknown", unknown))
        if value
    ]
    if not bars:
        return empty(title)
    bar_h, gap, label_w, value_w = 20, 6, 190, 50
    height = len(bars) * (bar_h + gap) + gap
    top = max(float(v) for _, v, _ in bars) or 1.0
    span = width - label_w - value_w
    parts = [
        f'<svg width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    ]
    for i, (key, value, color) in enumerate(bars):
        y = gap + i * (bar_h + gap)
        label = key if len(key) <= 28 else key[:27] + "…"
        w = max(2.0, span * value / top)
        text = (
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.72:.1f}" text-anchor="end"'
            f' class="lbl">{escape(label)}</text>'
        )
        if link is not None and color == BAR_COLOR:
            text = f'<a href="{escape(link + quote(key))}">{text}</a>'
        parts.append(
            text + f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3"'
            f' fill="{color}"><title>{escape(key)}: {value}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h * 0.72:.1f}" class="val">'
            f"{value}</text>"
        )
    parts.append("</svg>")
    return card(title, "".join(parts))


def prints_chart(per_day: list[dict], title: str, width: int = 1160) -> str:
    """Stacked columns of finished prints per day (done / failed / cancelled)."""
    if not per_day:
        return empty(title)
    height, pad_l, pad_b, pad_t = 240, 44, 40, 12
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    totals = [sum(num(d.get(k)) for k in OUTCOME_COLORS) for d in per_day]
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
        # A hidden day has no outcomes: nothing drawn, a gap.
        for key, color in OUTCOME_COLORS.items():
            h = plot_h * num(day.get(key)) / top
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
                f' class="val">{escape(month_day(day["day"]))}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{c}"></i>{k}</span>'
        for k, c in OUTCOME_COLORS.items()
    )
    return card(title, "".join(parts) + f'<div class="legend">{legend}</div>', wide=True)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def outcome_table(rows: list[dict], title: str, other: int | None = None) -> str:
    """Printing instances per OctoPrint version and the outcome rates of the prints
    on it ("–" where too few instances stand behind them)."""
    if not rows and not other:
        return empty(title, wide=True)
    body = "".join(
        "<tr>"
        f"<td>{escape(str(r['version']))}</td><td>{r['instances']}</td>"
        + "".join(
            f"<td>{_pct(r.get(f'{o}_rate'))}</td>"
            for o in ("done", "failed", "cancelled")
        )
        + "</tr>"
        for r in rows
    )
    if other:
        body += f"<tr><td>other</td><td>{other}</td><td>–</td><td>–</td><td>–</td></tr>"
    table = (
        "<table><thead><tr><th>OctoPrint</th><th>printing instances</th>"
        "<th>done rate</th><th>failed rate</th><th>cancelled rate</th>"
        f"</tr></thead><tbody>{body}</tbody></table>"
    )
    return card(title, table, wide=True)


def card(title: str, content: str, wide: bool = False) -> str:
    cls = "card wide" if wide else "card"
    return f'<section class="{cls}"><h2>{escape(title)}</h2>{content}</section>'


def empty(title: str, wide: bool = False) -> str:
    return card(title, '<p class="empty">No data yet.</p>', wide=wide)


# A palette that stays readable on white, one colour per version band.
PALETTE = (
    "#13a89e",
    "#1f78c1",
    "#eab839",
    "#ef843c",
    "#ba43a9",
    "#7eb26d",
    "#e24d42",
    "#705da0",
)
OTHER_COLOR = REST_COLOR
TOP_VERSIONS = len(PALETTE)
WIDE = 1160


def _frame(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="{escape(title)}">'
    ]


def _axes(parts: list[str], top: float, pad_l: int, pad_t: int, plot_h: int, width: int):
    base = pad_t + plot_h
    parts.append(
        f'<line x1="{pad_l}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#889"/>'
        f'<text x="{pad_l - 6}" y="{pad_t + 10}" text-anchor="end" class="val">'
        f"{int(top)}</text>"
        f'<text x="{pad_l - 6}" y="{base}" text-anchor="end" class="val">0</text>'
    )


def line_chart(
    points: list[tuple[str, Any]],
    title: str,
    *,
    label_every: int | None = None,
    label: slice = slice(None),
    width: int = WIDE,
) -> str:
    """A filled line over (label, value) points; a hidden value (None) is a gap."""
    if not points or not any(v is not None for _, v in points):
        return empty(title, wide=True)
    height, pad_l, pad_b, pad_t = 220, 44, 36, 12
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    top = max([num(v) for _, v in points] + [1.0])
    step = plot_w / max(1, len(points) - 1)
    base = pad_t + plot_h
    parts = _frame(title, width, height)
    _axes(parts, top, pad_l, pad_t, plot_h, width)
    coords = []
    # Few points: bigger dots, or a lone point would be a speck.
    radius = 1.6 if len(points) > 60 else 3.0
    runs: list[list[str]] = [[]]
    for i, (name, value) in enumerate(points):
        x = pad_l + i * step
        if value is None:
            # Hidden by the small-group rule: nothing to plot, the line breaks.
            runs.append([])
            continue
        y = base - plot_h * value / top
        runs[-1].append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{BAR_COLOR}">'
            f"<title>{escape(name)}: {value}</title></circle>"
        )
    for coords in (r for r in runs if r):
        first_x, last_x = coords[0].split(",")[0], coords[-1].split(",")[0]
        parts.insert(
            1,
            f'<polygon points="{first_x},{base} {" ".join(coords)} {last_x},{base}"'
            f' fill="{BAR_COLOR}" fill-opacity="0.18"/>'
            f'<polyline points="{" ".join(coords)}" fill="none" stroke="{BAR_COLOR}"'
            ' stroke-width="1.6"/>',
        )
    every = label_every or max(1, len(points) // 10)
    for i in range(0, len(points), every):
        x = pad_l + i * step
        # The last label would be cut off at the right edge: end it there instead.
        anchor = "end" if x > width - 30 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{base + 16}" text-anchor="{anchor}" class="val">'
            f"{escape(points[i][0][label])}</text>"
        )
    parts.append("</svg>")
    return card(title, "".join(parts), wide=True)


def hourly_chart(instance_stats: dict, title: str) -> str:
    """Unique instances per hour, from an ``instance_stats`` export's histogram."""
    points = [(row["start"], row.get("count")) for row in instance_stats["histogram"]]
    # Label each day at midnight: "MM-DD".
    return line_chart(points, title, label_every=24, label=slice(5, 10))


def plugin_chart(history: dict, title: str) -> str:
    points = [(d["day"], d.get("instances")) for d in history["days"]]
    return line_chart(points, title, label=slice(5, 10))


def _top_versions(days: list[dict]) -> list[str]:
    totals: dict[str, float] = {}
    for day in days:
        for version, value in day["versions"].items():
            totals[version] = totals.get(version, 0.0) + num(value)
    ranked = sorted(totals, key=lambda v: (-totals[v], v))
    return [v for v in ranked if totals[v] > 0][:TOP_VERSIONS]


def versions_chart(history: dict, title: str, width: int = WIDE) -> str:
    """Stacked columns: active instances per day by OctoPrint version."""
    days = history["days"]
    if not days or not any(num(d.get("instances")) for d in days):
        return empty(title, wide=True)
    top_versions = _top_versions(days)
    colors = dict(zip(top_versions, PALETTE))
    height, pad_l, pad_b, pad_t = 260, 44, 36, 12
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    top = max([num(d.get("instances")) for d in days] + [1.0])
    col = plot_w / len(days)
    bw = max(2.0, col * 0.8)
    base = pad_t + plot_h
    parts = _frame(title, width, height)
    _axes(parts, top, pad_l, pad_t, plot_h, width)
    for i, day in enumerate(days):
        x = pad_l + i * col + (col - bw) / 2
        y = float(base)
        stacked = 0.0
        bands: list[tuple[str, float, str]] = []
        for version in top_versions:
            value = num(day["versions"].get(version))
            if value:
                bands.append((version, value, colors[version]))
                stacked += value
        # "other": versions outside the top ones, the day's remainder (folded
        # versions) and its unknown; a day whose total is hidden shows none.
        rest = num(day.get("instances")) - stacked
        if rest > 0:
            bands.append(("other", rest, OTHER_COLOR))
        for version, value, color in bands:
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}"'
                f' fill="{color}"><title>{escape(day["day"])} {escape(version)}:'
                f" {int(value)}</title></rect>"
            )
    every = max(1, len(days) // 10)
    for i in range(0, len(days), every):
        x = pad_l + i * col + col / 2
        parts.append(
            f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" class="val">'
            f"{escape(month_day(days[i]['day']))}</text>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{c}"></i>{escape(v)}</span>'
        for v, c in list(colors.items()) + [("other", OTHER_COLOR)]
    )
    return card(title, "".join(parts) + f'<div class="legend">{legend}</div>', wide=True)


def plugin_form(plugin_ids: list[str], chosen: str | None) -> str:
    """A plain GET form (no script) choosing the plugin whose adoption is charted."""
    options = "".join(
        f'<option value="{escape(p)}"{" selected" if p == chosen else ""}>'
        f"{escape(p)}</option>"
        for p in plugin_ids
    )
    return (
        '<form method="get" action="" class="pick"><label>Plugin '
        f'<select name="plugin">{options}</select></label>'
        ' <button type="submit">Show adoption</button></form>'
    )
