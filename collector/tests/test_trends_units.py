"""Unit tests: trend charts, metrics registry, rate limiter, own-data document."""

from __future__ import annotations

import re
from collections import Counter
from types import SimpleNamespace

import pytest
from collector_testkit import COLLECTOR_DIR  # noqa: F401 - puts the work tree first
from prometheus_client.parser import text_string_to_metric_families
from test_exports import NOW, check_schema, window

from tracking_collector import charts, exports, history, metrics, own_data
from tracking_collector.ratelimit import RateLimiter

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
    html = charts.trends(
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


# Metrics ---------------------------------------------------------------------------


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_text_parses_and_has_fleet_gauges(monkeypatch):
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    before = metrics.REPORTS_REFUSED.labels("invalid_event")._value.get()
    metrics.REPORTS_REFUSED.labels("invalid_event").inc()
    reg = metrics.registry(lambda: {"24h": 12, "7d": 40})
    families = _families(metrics.exposition(reg).decode())
    active = {
        s.labels["window"]: s.value
        for s in families["tracking_collector_active_instances"].samples
    }
    assert active == {"24h": 12, "7d": 40}
    refused = {
        s.labels["reason"]: s.value
        for s in families["tracking_collector_reports_refused"].samples
        if s.name.endswith("_total")
    }
    assert refused["invalid_event"] == before + 1
    assert "tracking_collector_commit_seconds" in families


def test_instrumented_store_times_commits_and_passes_the_rest_through():
    calls = []
    inner = SimpleNamespace(add_many=calls.append, forget=lambda i: 7)
    store = metrics.InstrumentedStore(inner, depth=lambda: 3)
    count = metrics.COMMIT_SECONDS._sum.get()
    store.add_many(["r"])
    assert calls == [["r"]]
    assert store.forget("x") == 7
    assert metrics.QUEUE_DEPTH._value.get() == 3
    assert metrics.COMMIT_SECONDS._sum.get() > count


# Rate limiter ----------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_per_key_bucket_allows_a_burst_then_asks_to_wait():
    clock = Clock()
    limiter = RateLimiter(per_key_rate=0.1, per_key_burst=2, clock=clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 10]
    # Another key is not affected.
    assert limiter.retry_after("b") == 0
    clock.now = 10.0
    assert limiter.retry_after("a") == 0


def test_overall_bucket_limits_many_keys_and_does_not_charge_the_key():
    clock = Clock()
    limiter = RateLimiter(
        per_key_rate=1, per_key_burst=1, overall_rate=1, overall_burst=2, clock=clock
    )
    assert [limiter.retry_after(k) for k in "abc"] == [0, 0, 1]
    clock.now = 1.0
    assert limiter.retry_after("c") == 0


def test_limiter_keeps_a_bounded_number_of_keys():
    limiter = RateLimiter(max_keys=100, overall_rate=1e9, overall_burst=1e9)
    for i in range(1000):
        limiter.retry_after(str(i))
    assert len(limiter._keys) == 100


# Own data --------------------------------------------------------------------------


def test_own_data_document_shows_the_record_and_no_quarantine_state():
    day = int(NOW // 86400)
    record = SimpleNamespace(
        instance="2f0c3a5e-9a3b-4d44-8f3e-1a2b3c4d5e6f",
        first_seen=NOW - 86400,
        last_seen=NOW,
        last_print=None,
        env={
            "version": "1.11.8",
            "python": "3.11.2",
            "os": "linux",
            "bits": "64",
            "cores": "4",
            "pi_model": None,
            "octopi": None,
            "firmware": "Marlin",
            "plugins": "octolapse:0.4.5,themeify:1.2.2",
            "browser": "Chrome",
            "country": "DE",
            "city": "Berlin",
        },
        held="suspect",
        cohort="c1",
        days=[(day, 0b101, "1.11.8", 1, 1, 0, 0)],
        events=[
            SimpleNamespace(
                ts=NOW, event="install_plugin", version="1.11.8", fields={"plugin": "x"}
            )
        ],
    )
    doc = own_data.document(record.instance, record)
    check_schema(doc, "OwnData")
    assert doc["environment"]["plugins"] == [
        {"id": "octolapse", "version": "0.4.5"},
        {"id": "themeify", "version": "1.2.2"},
    ]
    assert doc["days"][0]["active_hours"] == [0, 2]
    assert doc["events"][0]["event"] == "install_plugin"
    assert "suspect" not in str(doc) and "c1" not in str(doc)


@pytest.mark.parametrize("counts", [Counter(), Counter({"a": 1})])
def test_masked_map_never_shows_a_small_group(counts):
    assert all(v == "<10" for v in exports.masked_map(counts, MIN).values())
