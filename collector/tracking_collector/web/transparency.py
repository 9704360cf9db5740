"""The dashboard's transparency section: the report of ``/api/transparency`` as a
chart of reports accepted and refused per day and a table of every decision."""

from __future__ import annotations

from html import escape
from typing import Any

from ..timefmt import month_day
from . import charts

ACCEPTED_COLOR = "#13a89e"
REFUSED_COLOR = "#d1453b"


def _reasons(counts: dict[str, int]) -> str:
    """``{reason: n}`` as "n" with the reasons in a tooltip ("–" for none)."""
    total = sum(counts.values())
    if not total:
        return "–"
    detail = ", ".join(f"{reason} {n}" for reason, n in counts.items())
    return f'<span title="{escape(detail)}">{total}</span>'


def _decisions(counts: dict[str, int]) -> str:
    if not counts.get("instances"):
        return "–"
    return f"{counts['instances']} ({counts['cohorts']} cohorts)"


def _row(day: dict[str, Any], label: str) -> str:
    cells = [
        escape(label),
        str(day["accepted"]),
        _reasons(day["refused"]),
        _reasons(day.get("held", {})),
        _decisions(day["released"]),
        _decisions(day["purged"]),
        str(day["forgotten"] or "–"),
        str(day["expired"] or "–"),
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _eventful(day: dict[str, Any]) -> bool:
    """Whether a day has anything to show in the table (the chart shows them all)."""
    return bool(
        day["accepted"]
        or day["refused"]
        or day["held"]
        or day["released"]["instances"]
        or day["purged"]["instances"]
        or day["forgotten"]
        or day["expired"]
    )


def _chart(days: list[dict[str, Any]], width: int = charts.WIDE) -> str:
    """Columns of reports accepted (and refused, stacked on top) per day."""
    height, pad_l, pad_b, pad_t = 160, 60, 28, 10
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    totals = [d["accepted"] + sum(d["refused"].values()) for d in days]
    top = max(totals + [1])
    col = plot_w / max(1, len(days))
    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        ' role="img" aria-label="Reports accepted and refused per day">'
        f'<text x="{pad_l - 6}" y="{pad_t + 10}" text-anchor="end" class="val">'
        f"{top}</text>"
    ]
    base = pad_t + plot_h
    for i, day in enumerate(days):
        x, y = pad_l + i * col + col * 0.15, float(base)
        for value, color, what in (
            (day["accepted"], ACCEPTED_COLOR, "accepted"),
            (sum(day["refused"].values()), REFUSED_COLOR, "refused"),
        ):
            h = plot_h * value / top
            if h <= 0:
                continue
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{col * 0.7:.1f}"'
                f' height="{h:.1f}" fill="{color}"><title>{escape(day["day"])}'
                f" {what}: {value}</title></rect>"
            )
        if i % max(1, len(days) // 10) == 0:
            parts.append(
                f'<text x="{x + col * 0.35:.1f}" y="{base + 16}" text-anchor="middle"'
                f' class="val">{escape(month_day(day["day"]))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def section(report: dict[str, Any]) -> str:
    """The card: newest day first, then the totals of the additive figures."""
    days = report["days"]
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "day", "accepted", "refused", "held", "released", "purged",
            "forgotten", "expired",
        )
    )  # fmt: skip
    rows = "".join(_row(d, d["day"]) for d in reversed(days) if _eventful(d))
    totals = _row(report["totals"], "total")
    legend = "".join(
        f'<span class="key"><i style="background:{c}"></i>{k}</span>'
        for k, c in (("accepted", ACCEPTED_COLOR), ("refused", REFUSED_COLOR))
    )
    note = (
        '<p class="pick">Reports count on the day they claim; refusals on the day'
        " they arrived. Held instances are left out of every public number until"
        " an operator releases or purges their cohort. Forgotten: deleted on the"
        " instance's own request; expired: deleted by the retention purge. Days"
        " with none of these are left out of the table.</p>"
    )
    return charts.card(
        f"Transparency: reports and instances, last {len(days)} days",
        note
        + _chart(days)
        + f'<div class="legend">{legend}</div>'
        + f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
        + f"<tfoot>{totals}</tfoot></table>",
        wide=True,
    )
