"""Arbitrary payloads at every handled event: nothing raises, nothing undeclared leaks."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import octoprint_tracking
from harness import plugin as support
from octoprint_tracking.core import catalog, events, model

EVENTS = sorted(events.EVENTS) + ["ConnectivityChanged", "Unknown", None, 7]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=80),
    st.binary(max_size=20),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=10,
)
known_keys = st.sampled_from(
    ["path", "origin", "time", "reason", "error", "port", "baudrate", "name", "id", "version",
     "target", "from_version", "to_version", "raw_value", "current_issue", "past_issue",
     "key", "slicer", "warning_type", "check_name", "connector", "new"]
)  # fmt: skip
payloads = st.one_of(
    values,
    st.dictionaries(st.one_of(known_keys, st.text(max_size=10)), values, max_size=8),
)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(event=st.sampled_from(sorted(events.EVENTS)), payload=payloads)
def test_builders_never_raise_and_emit_only_declared_fields(event, payload):
    # The builders themselves, without the safety net of events.build.
    state = model.HostState(file_key=b"key")
    name, builder = events.EVENTS[event]
    for _ in range(2):  # twice: the second call sees the state the first one left
        report = builder(state, name, payload)
        if report is not None:
            catalog.check_fields(report.name, report.fields)
            assert all(v is not None for v in report.fields.values())


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    p = support.build(
        octoprint_tracking.UsageTrackingPlugin,
        "usage_tracking",
        tmp_path_factory.mktemp("fuzz"),
        {"enabled": True, "consent_version": catalog.CONSENT_VERSION},
    )
    p._logger = mock.Mock()
    return p


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(event=st.sampled_from(EVENTS), payload=payloads)
def test_on_event_handles_any_payload_without_hitting_its_safety_net(
    plugin, event, payload
):
    plugin.on_event(event, payload)
    # The except branch logs at debug: it must never have been needed.
    assert not plugin._logger.debug.called
    assert plugin._tracker.delivery is not None
