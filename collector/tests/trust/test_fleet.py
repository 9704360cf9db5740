"""The replay generator has the shape of the issue, and the policy defeats it."""

from __future__ import annotations

import ipaddress

import pytest
from testkit import MemoryKeys, MemoryState, admit, fleet
from testkit.stores import ephemeral

from tracking_collector.store import Report
from tracking_collector.trust import admission as a
from tracking_collector.trust.sources import SourceKeys

DAY = 86400.0
START = 1_700_000_000.0 - (1_700_000_000.0 % DAY)

DOC_NETS = [
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]


@pytest.fixture(scope="module")
def replay() -> fleet.Fleet:
    return fleet.build(START)


def lifetimes(requests):
    first, last = {}, {}
    for r in requests:
        first.setdefault(r.instance, r.ts)
        last[r.instance] = r.ts
    return {i: last[i] - first[i] for i in first}


def test_fleet_has_the_sizes_of_the_issue(replay):
    assert len(replay.organic) == 190
    assert len(replay.farm) == 40
    assert len(replay.fakes) == 1800
    assert len(replay.commercial_organic) == 19
    assert {r.instance for r in replay.requests} == replay.organic | replay.fakes


def test_only_documentation_addresses_are_used(replay):
    for address in fleet.addresses(replay.requests):
        ip = ipaddress.ip_address(address)
        assert any(ip.version == n.version and ip in n for n in DOC_NETS), address


def test_the_farm_sits_behind_one_address(replay):
    farm = {r.client for r in replay.requests if r.instance in replay.farm}
    assert farm == {fleet.FARM_ADDRESS}


def test_fakes_come_from_two_networks_and_push_the_commercial_plugin(replay):
    fake = [r for r in replay.requests if r.instance in replay.fakes]
    nets = {
        ipaddress.ip_network((r.client, 24 if "." in r.client else 48), strict=False)
        for r in fake
    }
    assert len(nets) == 2
    installs = {r.instance for r in fake if r.event == "install_plugin"}
    assert installs == replay.fakes
    pushed = {r.instance for r in fake if fleet.COMMERCIAL in r.fields.get("plugins", "")}
    assert len(pushed) > 0.95 * len(replay.fakes)


def test_most_fakes_live_under_half_an_hour_and_none_beyond_twelve_hours(replay):
    life = lifetimes(r for r in replay.requests if r.instance in replay.fakes)
    short = sum(1 for v in life.values() if v < 1800)
    assert short > 0.75 * len(life)
    assert max(life.values()) <= 12 * 3600


def test_organic_instances_ping_every_fifteen_minutes_for_days(replay):
    life = lifetimes(r for r in replay.requests if r.instance in replay.organic)
    assert min(life.values()) > DAY
    farm_pings = [
        r for r in replay.requests if r.instance in replay.farm and r.event == "ping"
    ]
    assert len(farm_pings) > 40 * 4 * 24 * 4


def public_after(replay: fleet.Fleet, policy: a.Policy):
    """The policy alone (no store): which instances are public at the end, and the
    plugins each reported. Public = not held and not ephemeral."""
    clock = {"now": START}
    admission = a.Admission(
        SourceKeys(MemoryKeys(), lambda: clock["now"]),
        MemoryState(),
        policy,
        lambda: clock["now"],
    )
    first, last, plugins = {}, {}, {}
    for r in replay.requests:
        clock["now"] = r.ts
        rep = Report(instance=r.instance, event=r.event, ts=r.ts, fields=r.fields)
        admit(admission, rep, r.client, r.user_agent)
        first.setdefault(r.instance, r.ts)
        last[r.instance] = r.ts
        if "plugins" in r.fields:
            plugins[r.instance] = r.fields["plugins"]
    public = {
        i
        for i in first
        if i not in admission.state.held
        and not ephemeral(first[i], last[i], replay.end, policy.lifetime)
    }
    pushed = {i for i in public if fleet.COMMERCIAL in plugins.get(i, "")}
    return public, pushed, set(admission.state.held)


def test_without_the_policy_the_replay_inflates_the_numbers_as_in_the_issue(replay):
    off = a.Policy(new_ids_per_source=0, min_lifetime=0, plausibility=False)
    public, pushed, _ = public_after(replay, off)
    assert len(public) == 1990
    assert len(pushed) > 1800


def test_policy_on_the_replay_counts_every_organic_instance_and_no_fake(replay):
    public, pushed, held = public_after(replay, a.Policy())
    assert replay.organic <= public
    assert len(public) <= 1.15 * replay.truth
    assert abs(len(pushed) - 19) <= 0.15 * 19
    assert held <= replay.fakes
