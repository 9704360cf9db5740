"""Trend charts: hidden points leave gaps, remainders are grey bars, no script."""

from __future__ import annotations

import re

from testkit.schemas import NOW, known_figures

from tracking_collector.publish import exports, history, plugin_page
from tracking_collector.web import charts, dashboard

MIN = 10


def _versions_doc(days: list[dict]) -> dict:
    return {"_since": "", "_generated": "", "days": days}


def test_hourly_chart_plots_shown_hours_and_leaves_hidden_ones_out():
    doc = exports.instance_stats(known_figures(MIN).window(7))
    svg = charts.hourly_chart(doc, "Unique instances per hour")
    shown = [h for h in doc["histogram"] if "count" in h]
    assert svg.count("<circle") == len(shown)
    # The hour of 4 instances is drawn as nothing at all: no mark, no title.
    assert "2025-11-24T16:00:00Z" not in svg and "&lt;" not in svg
    assert "2025-11-24T15:00:00Z: 99" in svg
    assert "<script" not in svg and "http" not in svg.replace("http://www.w3", "")


def test_bar_chart_draws_the_remainder_and_unknown_as_grey_bars():
    rows = [{"key": "1.11.8", "instances": 80}]
    svg = charts.bar_chart(rows, "Versions", other=18, unknown=0)
    assert "<title>1.11.8: 80</title>" in svg and "<title>other: 18</title>" in svg
    assert "unknown" not in svg  # nobody there: no bar
    assert f'fill="{charts.REST_COLOR}"' in svg


def test_versions_chart_stacks_versions_per_day():
    doc = _versions_doc(
        [
            {"day": "2025-11-23", "instances": 50, "versions": {"1.11.8": 40}},
            {"day": "2025-11-24", "instances": 60, "versions": {"1.11.8": 45, "y": 15}},
        ]
    )
    svg = charts.versions_chart(doc, "By version")
    # 1.11.8 and the "other" rest (10) on day one; 1.11.8 and y on day two.
    assert "2025-11-23 1.11.8: 40" in svg and "2025-11-23 other: 10" in svg
    assert "2025-11-24 y: 15" in svg and "2025-11-24 other" not in svg
    heights = [float(h) for h in re.findall(r'height="([0-9.]+)" fill="#', svg)]
    assert max(heights) > 0


def test_charts_say_no_data_instead_of_drawing_nothing():
    empty = _versions_doc([{"day": "2025-11-24", "versions": {}}])
    assert "No data yet" in charts.versions_chart(empty, "By version")
    assert "No data yet" in charts.plugin_chart(
        {"plugin": "x", "days": [{"day": "2025-11-24"}]}, "x"
    )


def test_trends_offer_a_plugin_form_without_script():
    first, last = history.day_range(NOW, 2)
    figures = known_figures(MIN)
    html = dashboard.trends(
        exports.instance_stats(figures.window(7)),
        history.versions({}, first, last, NOW, MIN),
        history.prints(figures, first, NOW),
        ["octolapse", "themeify"],
        history.plugin(
            plugin_page.entries(
                plugin_page.fold_days(
                    {"active": {last: {"": 40}}, "plugin": {last: {"themeify": 12}}},
                    NOW,
                    first,
                    frozenset(),
                    MIN,
                ),
                "themeify",
                {},
                first,
            ),
            "themeify",
            first,
            NOW,
        ),
    )
    assert '<form method="get"' in html and '<select name="plugin">' in html
    assert '<option value="themeify" selected>' in html
    assert "Adoption of themeify" in html
    assert "<script" not in html
