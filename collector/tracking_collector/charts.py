"""Server-rendered SVG trend charts for the dashboard (no JavaScript, no CDN).

Input is what the exports and the history endpoints publish, already masked, so a
chart can never show more than the JSON does: a masked point ("<N") is drawn as a
grey mark at the bottom, not as a value.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .dashboard import BAR_COLOR, SMALL_COLOR, _card, _empty, _num, prints_chart

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
OTHER_COLOR = "#8a9ba5"
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
    """A filled line over (label, value) points; masked values are grey ticks."""
    if not points or not any(isinstance(v, (int, float)) for _, v in points):
        return _empty(title, wide=True)
    height, pad_l, pad_b, pad_t = 220, 44, 36, 12
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    top = max([_num(v) for _, v in points] + [1.0])
    step = plot_w / max(1, len(points) - 1)
    base = pad_t + plot_h
    parts = _frame(title, width, height)
    _axes(parts, top, pad_l, pad_t, plot_h, width)
    coords = []
    # Few points: bigger dots, or a lone point would be a speck.
    radius = 1.6 if len(points) > 60 else 3.0
    for i, (name, value) in enumerate(points):
        x = pad_l + i * step
        if isinstance(value, (int, float)):
            y = base - plot_h * value / top
            coords.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{BAR_COLOR}">'
                f"<title>{escape(name)}: {value}</title></circle>"
            )
        else:
            # Hidden by the small-group rule: nothing to plot, say so.
            parts.append(
                f'<rect x="{x - 1:.1f}" y="{base - 4}" width="3" height="4"'
                f' fill="{SMALL_COLOR}"><title>{escape(name)}: {escape(str(value))}'
                "</title></rect>"
            )
    if coords:
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
    return _card(title, "".join(parts), wide=True)


def hourly_chart(instance_stats: dict, title: str) -> str:
    """Unique instances per hour, from an ``instance_stats`` export's histogram."""
    points = [(row["start"], row["count"]) for row in instance_stats["histogram"]]
    # Label each day at midnight: "MM-DD".
    return line_chart(points, title, label_every=24, label=slice(5, 10))


def plugin_chart(history: dict, title: str) -> str:
    points = [(d["day"], d["instances"]) for d in history["days"]]
    return line_chart(points, title, label=slice(5, 10))


def _top_versions(days: list[dict]) -> list[str]:
    totals: dict[str, float] = {}
    for day in days:
        for version, value in day["versions"].items():
            totals[version] = totals.get(version, 0.0) + _num(value)
    ranked = sorted(totals, key=lambda v: (-totals[v], v))
    return [v for v in ranked if totals[v] > 0][:TOP_VERSIONS]


def versions_chart(history: dict, title: str, width: int = WIDE) -> str:
    """Stacked columns: active instances per day by OctoPrint version."""
    days = history["days"]
    if not days or not any(_num(d["instances"]) for d in days):
        return _empty(title, wide=True)
    top_versions = _top_versions(days)
    colors = dict(zip(top_versions, PALETTE))
    height, pad_l, pad_b, pad_t = 260, 44, 36, 12
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    top = max([_num(d["instances"]) for d in days] + [1.0])
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
            value = _num(day["versions"].get(version))
            if value:
                bands.append((version, value, colors[version]))
                stacked += value
        # "other": versions outside the top ones and visible groups that are not
        # split out; masked groups add nothing, they have no value to draw.
        rest = _num(day["instances"]) - stacked
        if rest > 0:
            bands.append(("other", rest, OTHER_COLOR))
        if not isinstance(day["instances"], (int, float)):
            parts.append(
                f'<rect x="{x:.1f}" y="{base - 4}" width="{bw:.1f}" height="4"'
                f' fill="{SMALL_COLOR}"><title>{escape(day["day"])}:'
                f" {escape(str(day['instances']))}</title></rect>"
            )
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
            f"{escape(days[i]['day'][5:])}</text>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{c}"></i>{escape(v)}</span>'
        for v, c in list(colors.items()) + [("other", OTHER_COLOR)]
    )
    return _card(title, "".join(parts) + f'<div class="legend">{legend}</div>', wide=True)


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
        adoption = plugin_chart(
            plugin_history, f"Adoption of {chosen}: active instances per day"
        )
    else:
        adoption = _card(
            "Plugin adoption",
            '<p class="empty">Choose a plugin to chart its active instances per day.</p>',
            wide=True,
        )
    form = plugin_form(plugin_ids, chosen)
    return "".join(
        [
            hourly_chart(instance_stats, "Unique instances per hour (last 7 days)"),
            versions_chart(
                versions, f"Active instances per day by OctoPrint version ({days} days)"
            ),
            adoption.replace("</h2>", "</h2>" + form, 1),
            prints_chart(prints["days"], f"Print outcomes per day ({days} days)"),
        ]
    )
