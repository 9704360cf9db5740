"""Admission policy: bursts of new ids per source and impossible reports are held."""

from __future__ import annotations

import logging
import uuid

import pytest
from testkit import MemoryKeys, MemoryState, admit, fleet

from tracking_collector.store import Pending, Report, Stored
from tracking_collector.trust import admission as a
from tracking_collector.trust.sources import SourceKeys, source_hash

DAY = 86400.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % DAY) + 8 * 3600


class Clock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def report(instance=None, ts=T0, **fields) -> Report:
    return Report(
        instance=instance or str(uuid.uuid4()), event="ping", ts=ts, fields=fields
    )


def make(budget=50, clock=None, state=None, **policy) -> a.Admission:
    clock = clock or Clock()
    return a.Admission(
        SourceKeys(MemoryKeys(), clock, random=lambda n: b"k" * n),
        state if state is not None else MemoryState(),
        a.Policy(new_ids_per_source=budget, **policy),
        clock,
    )


def test_a_new_real_instance_counts_at_once():
    stored = admit(make(), report(version="1.11.8", python="3.11.2"), "203.0.113.7")
    assert stored == Stored(None, True, 1)


def test_an_id_the_process_does_not_know_is_left_to_the_writer():
    # Only the store can tell whether it is new: the decision for either answer.
    pending = make(budget=3)(report(python="2.7.18", version="1.10.0"), "203.0.113.7")
    assert isinstance(pending, Pending)
    assert pending.source == source_hash(b"k" * 32, "203.0.113.7")
    assert (pending.budget, pending.if_burst) == (3, a.SOURCE_BURST)
    assert pending.if_new == pending.if_known == "implausible:python_version"


def test_decision_about_a_known_instance_unpacks_as_held_and_cohort():
    instance = str(uuid.uuid4())
    held, cohort = make(state=MemoryState([instance]))(report(instance), "203.0.113.7")
    assert held is None
    assert cohort == source_hash(b"k" * 32, "203.0.113.7")


def test_a_print_farm_of_many_long_lived_instances_behind_one_address_counts():
    admission = make(budget=50)
    farm = [str(uuid.uuid4()) for _ in range(45)]
    for day in range(5):
        admission.clock.now = T0 + day * DAY
        for instance in farm:
            assert admit(admission, report(instance), fleet.FARM_ADDRESS).held is None
    assert admission.state.held == {}


def test_new_ids_beyond_the_budget_are_held_and_so_are_the_earlier_ones_of_that_day():
    admission = make(budget=5)
    ids = [str(uuid.uuid4()) for _ in range(8)]
    decisions = [
        admit(admission, report(i), f"198.51.100.{n}") for n, i in enumerate(ids)
    ]
    assert [d.held for d in decisions[:5]] == [None] * 5
    assert [d.held for d in decisions[5:]] == [a.SOURCE_BURST] * 3
    assert set(admission.state.held) == set(ids)
    assert len({admission.state.cohorts[i] for i in ids}) == 1


def test_budget_is_per_source_network():
    admission = make(budget=3)
    for n in range(3):
        admit(admission, report(), f"198.51.100.{n}")
        admit(admission, report(), f"2001:db8:{n + 10}::1")
        admit(admission, report(), f"2001:db8:1:{n}::1")  # all in 2001:db8:1::/48
    assert admission.state.held == {}
    assert admit(admission, report(), "2001:db8:1:ffff::9").held == a.SOURCE_BURST


def test_budget_starts_again_on_the_next_utc_day():
    admission = make(budget=2)
    for _ in range(2):
        admit(admission, report(), "198.51.100.1")
    admission.clock.now += DAY
    assert admit(admission, report(), "198.51.100.1").held is None


def test_known_instances_do_not_use_the_budget():
    known = [str(uuid.uuid4()) for _ in range(10)]
    admission = make(budget=2, state=MemoryState(known))
    for instance in known:
        assert admit(admission, report(instance), "198.51.100.1").held is None


def test_budget_zero_switches_the_burst_rule_off():
    admission = make(budget=0)
    assert all(
        admit(admission, report(), "198.51.100.1").held is None for _ in range(100)
    )


def test_impossible_environment_is_held_with_the_rule_as_reason():
    stored = admit(make(), report(version="1.10.0", python="2.7.18"), "203.0.113.7")
    assert stored.held == "implausible:python_version"


def test_version_disagreeing_with_the_user_agent_is_held():
    ua = fleet.user_agent("1.11.8")
    stored = admit(make(), report(version="1.8.0"), "203.0.113.7", ua)
    assert stored.held == "implausible:version_mismatch"


def test_a_spooled_report_is_judged_by_its_age():
    admission = make()
    old = report(ts=T0 - 3 * 3600, version="1.10.3")
    assert admit(admission, old, "203.0.113.7", fleet.user_agent("1.11.8")).held is None


def test_plausibility_can_be_switched_off():
    admission = make(plausibility=False)
    assert (
        admit(admission, report(version="1.10", python="2.7"), "192.0.2.1").held is None
    )


def test_a_known_instance_turning_implausible_is_held_too():
    instance = str(uuid.uuid4())
    admission = make(state=MemoryState([instance]))
    decision = admission(report(instance, version="2.0.0", python="2.7.18"), "192.0.2.1")
    assert decision.held == "implausible:python_version"


def test_without_an_address_there_is_no_cohort_and_no_budget():
    admission = make(budget=1)
    stored = [admit(admission, report(), None) for _ in range(3)]
    assert stored == [Stored(None, True, 0)] * 3
    assert set(admission.state.cohorts.values()) == {None}
    assert admission.state.created == {}


def test_rotate_destroys_old_keys_and_old_counts():
    clock = Clock()
    admission = make(budget=5, clock=clock)
    admit(admission, report(), "198.51.100.1")
    clock.now += DAY
    assert admission.rotate() == 1
    assert admission.state.created == {}


def test_decisions_are_logged_without_address_or_instance_id(caplog):
    admission = make(budget=1)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    with caplog.at_level(logging.INFO, logger=a.__name__):
        for instance in ids:
            admit(admission, report(instance), "198.51.100.77")
        admit(admission, report(version="1.9.0", python="2.7.18"), "2001:db8:77::1")
    text = caplog.text
    assert "source_burst" in text and "implausible:python_version" in text
    assert "created more than 1 new instance ids today" in text
    for secret in ["198.51.100", "2001:db8", *ids]:
        assert secret not in text


@pytest.mark.parametrize("kwargs", [{"new_ids_per_source": -1}, {"min_lifetime": -1}])
def test_policy_rejects_negative_knobs(kwargs):
    with pytest.raises(ValueError):
        a.Policy(**kwargs)


def test_sweep_holds_an_instance_of_a_bursting_source_that_landed_public():
    admission = make(budget=2)
    for _ in range(3):
        admit(admission, report(), "198.51.100.1")
    late = str(uuid.uuid4())
    # Admitted by another process before the hold, stored public afterwards.
    cohort = source_hash(b"k" * 32, "198.51.100.1")
    admission.state.write(Report(late, "ping", T0, cohort=cohort))
    assert late not in admission.state.held
    assert admission.sweep() == 1
    assert admission.state.held[late] == a.SOURCE_BURST


def test_knobs_come_from_the_environment():
    from tracking_collector.settings import Config

    config = Config.from_env(
        {
            "TRACKING_COLLECTOR_NEW_IDS_PER_SOURCE": "7",
            "TRACKING_COLLECTOR_MIN_LIFETIME": "60",
            "TRACKING_COLLECTOR_GONE_AFTER": "120",
            "TRACKING_COLLECTOR_PLAUSIBILITY": "off",
            "TRACKING_COLLECTOR_ADMIN_TOKEN": "t0ken",
        }
    )
    assert config.policy() == a.Policy(7, 60.0, 120.0, False)
    assert config.admin_token == "t0ken"
    assert Config().policy() == a.Policy()
    with pytest.raises(ValueError):
        Config.from_env({"TRACKING_COLLECTOR_PLAUSIBILITY": "maybe"})
    with pytest.raises(ValueError):
        Config(new_ids_per_source=-1)


def test_a_known_instance_reporting_its_old_version_after_an_update_stays_public():
    # The shutdown report spooled before the update, sent by the new OctoPrint.
    instance = str(uuid.uuid4())
    admission = make(state=MemoryState([instance]))
    spooled = report(instance, version="1.10.3")
    assert admission(spooled, "203.0.113.7", fleet.user_agent("1.11.8")).held is None


def test_a_forgotten_id_is_left_to_the_writer_again_once_its_forget_commits():
    admission = make(budget=1)
    instance = str(uuid.uuid4())
    admit(admission, report(instance), "198.51.100.1")
    assert not isinstance(admission(report(instance), "198.51.100.1"), Pending)
    admission.committed("forget", (instance, T0), 1)
    assert isinstance(admission(report(instance), "198.51.100.1"), Pending)
