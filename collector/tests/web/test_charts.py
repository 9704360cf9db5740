"""Trend charts: masked points drawn grey, no script, a plugin form."""

from __future__ import annotations

import re

from testkit.schemas import NOW, window

from tracking_collector.publish import exports, history
from tracking_collector.web import charts, dashboard

MIN = 10


def _versions_doc(days: list[dict]) -> dict:
    return {"_since": "", "_generated": "", "days": days}


# Charts ----------------------------------------------------------------------------


def test_hourly_chart_plots_every_hour_and_greys_masked_ones():
    doc = exports.instance_stats(window(), MIN)
    svg = charts.hourly_chart(doc, "Unique instances per hour")
    assert svg.count("<circle") == 3  # three visible hours
    assert "2025-11-24T16:00:00Z: &lt;10" in svg  # the masked hour, as a grey mark
    assert "<script" not in svg and "http" not in svg.replace("http://www.w3", "")


def test_versions_chart_stacks_versions_per_day():
    doc = _versions_doc(
        [
            {
                "day": "2025-11-23",
                "instances": 50,
                "versions": {"1.11.8": 40, "x": "<10"},
            },
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
    empty = _versions_doc([{"day": "2025-11-24", "instances": "<10", "versions": {}}])
    assert "No data yet" in charts.versions_chart(empty, "By version")
    assert "No data yet" in charts.plugin_chart(
        {"plugin": "x", "days": [{"day": "2025-11-24", "instances": "<10"}]}, "x"
    )


def test_trends_offer_a_plugin_form_without_script():
    first, last = history.day_range(NOW, 2)
    html = dashboard.trends(
        exports.instance_stats(window(), MIN),
        history.versions({}, first, last, NOW, MIN),
        history.prints({}, first, last, NOW, MIN),
        ["octolapse", "themeify"],
        history.plugin(
            {"plugin": {last: {"themeify": 12}}}, "themeify", first, last, NOW, MIN
        ),
    )
    assert '<form method="get"' in html and '<select name="plugin">' in html
    assert '<option value="themeify" selected>' in html
    assert "Adoption of themeify" in html
    assert "<script" not in html
