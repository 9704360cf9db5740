"""The metrics registry and the commit timing, in one process."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from tracking_collector.ops import metrics


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
    inner = SimpleNamespace(
        add_many=lambda reports, counts: calls.append((reports, counts)),
        forget=lambda i: 7,
    )
    store = metrics.InstrumentedStore(inner, depth=lambda: 3)
    count = metrics.COMMIT_SECONDS._sum.get()
    store.add_many(["r"], [(1, "refused", "invalid_event", 2)])
    assert calls == [(["r"], [(1, "refused", "invalid_event", 2)])]
    assert store.forget("x") == 7
    assert metrics.QUEUE_DEPTH._value.get() == 3
    assert metrics.COMMIT_SECONDS._sum.get() > count
