"""The small-group fold: what it publishes reveals no group below the minimum, and
it folds no more than that needs (property tests, with a linear-algebra model of
what a reader can derive: testkit/disclosure.py)."""

from __future__ import annotations

import itertools
import random

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from testkit.disclosure import revealed, small_revealed

from tracking_collector.publish.smallgroup import (
    UNKNOWN,
    fold_nested,
    fold_nonpartition,
    fold_partition,
    fold_series,
)

MINS = st.integers(1, 12)
COUNTS = st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 40), max_size=8)
PROFILE = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def partition_publication(counts, unknown, fold):
    """The published sums of a folded partition, as sets of atoms (keys, UNKNOWN)."""
    atoms = {k: n for k, n in counts.items() if n > 0}
    atoms[UNKNOWN] = unknown
    published = []
    if fold.published:
        published += [{k} for k in fold.visible]
        published.append(set(fold.folded))  # the remainder
        if fold.unknown is not None:
            published.append({UNKNOWN})
        published.append(set(atoms))  # the total, published elsewhere
    return atoms, published


@PROFILE
@given(COUNTS, st.integers(0, 40), MINS)
def test_partition_publishes_only_numbers_that_reveal_no_small_group(counts, unknown, m):
    fold = fold_partition(counts, unknown, m)
    total = sum(counts.values()) + unknown
    if 0 < total < m:
        assert (fold.visible, fold.other, fold.unknown) == ({}, None, None)
        return
    assert all(isinstance(n, int) and n >= m for n in fold.visible.values())
    assert fold.other == 0 or fold.other >= m
    assert fold.unknown is None or fold.unknown == 0 or fold.unknown >= m
    assert sum(fold.visible.values()) + fold.other + (fold.unknown or 0) == total
    assert list(fold.visible.values()) == sorted(fold.visible.values(), reverse=True)
    assert len(fold.extra) <= 1
    atoms, published = partition_publication(counts, unknown, fold)
    assert small_revealed(atoms, published, m) == []


@PROFILE
@given(COUNTS, st.integers(0, 40), MINS)
def test_partition_folds_no_more_than_privacy_needs(counts, unknown, m):
    """No other choice of groups to fold publishes more of them (brute force)."""
    fold = fold_partition(counts, unknown, m)
    assume(sum(counts.values()) + unknown >= m)
    groups = {k: n for k, n in counts.items() if n > 0}
    if unknown:
        groups[UNKNOWN] = unknown
    small = {k for k, n in groups.items() if n < m}
    big = [k for k in groups if k not in small]
    fewest = next(
        k
        for k in range(len(big) + 1)
        for extra in itertools.combinations(big, k)
        if sum(groups[g] for g in small | set(extra)) in range(0, 1)
        or sum(groups[g] for g in small | set(extra)) >= m
    )
    assert len(fold.extra) == fewest
    if fold.extra and fold.extra[0] is not UNKNOWN:
        # The one given up is the smallest key a reader reads, and the unknown
        # (which no reader reads) was not there to give up.
        assert unknown == 0 or unknown < m
        shown = [n for k, n in groups.items() if k not in fold.folded]
        assert all(groups[fold.extra[0]] <= n for n in shown)


def test_a_key_the_readers_cannot_show_is_folded_whatever_its_size():
    fold = fold_partition(
        {"linux": 80, "unmapped": 15, "windows": 3}, 0, 10, {"unmapped"}
    )
    assert fold.visible == {"linux": 80} and fold.other == 18


LEAVES = st.dictionaries(
    st.tuples(st.sampled_from("PQR"), st.sampled_from(["1", "2", "3", "?"])),
    st.integers(0, 30),
    max_size=7,
)


def _nested(leaves, unknown, m):
    parents: dict[str, int] = {}
    children: dict[str, dict[str, int]] = {}
    for (p, c), n in leaves.items():
        parents[p] = parents.get(p, 0) + n
        if c != "?":
            children.setdefault(p, {})[c] = n
    return fold_nested(parents, children, unknown, m)


@PROFILE
@given(LEAVES, st.integers(0, 30), MINS)
def test_nested_map_reveals_no_small_group(leaves, unknown, m):
    """browser -> browser_version (one child map with its own remainder and
    unknown beside it) and plugin -> versions (a remainder per parent)."""
    nested = _nested(leaves, unknown, m)
    atoms = {leaf: n for leaf, n in leaves.items() if n > 0}
    atoms[UNKNOWN] = unknown
    parent = nested.parent
    if not parent.published:
        assert nested.other is None
        return

    def of(p):
        return {a for a in atoms if a is not UNKNOWN and a[0] == p}

    published = [of(p) for p in parent.visible]
    published.append(
        set().union(*(of(p) for p in parent.folded if p is not UNKNOWN))
        | ({UNKNOWN} if UNKNOWN in parent.folded else set())
    )
    if parent.unknown is not None:
        published.append({UNKNOWN})
    published.append(set(atoms))
    shown = set()
    for p, child in nested.children.items():
        assert (
            sum(child.visible.values()) + child.other + (child.unknown or 0)
            == parent.visible[p]
        )
        for c, n in child.visible.items():
            assert n >= m
            published.append({(p, c)})
            shown.add((p, c))
    child_unknown = ({UNKNOWN} if parent.unknown is not None else set()) | {
        (p, "?")
        for p, child in nested.children.items()
        if child.unknown is not None and (p, "?") in atoms
    }
    assert nested.other == 0 or nested.other >= m
    assert nested.unknown == 0 or nested.unknown >= m
    published.append(set(atoms) - shown - child_unknown)  # the child map's other
    published.append(child_unknown)
    assert sum(atoms[a] for a in published[-2]) == nested.other
    assert sum(atoms[a] for a in published[-1]) == nested.unknown
    assert small_revealed(atoms, published, m) == []
    # ... and the remainder of every shown parent (plugin_stats: versions_other)
    for p, child in nested.children.items():
        published.append(
            {(p, c) for c in child.folded if c is not UNKNOWN}
            | ({(p, "?")} if UNKNOWN in child.folded else set())
        )
        if child.unknown and (p, "?") in atoms:
            published.append({(p, "?")})
    assert small_revealed(atoms, published, m) == []


@PROFILE
@given(COUNTS, st.sampled_from([0, 10, 15, 30]), MINS)
@example({"a": 1}, 0, 2)  # a population below the minimum
def test_nonpartition_of_disjoint_keys_reveals_no_small_group(counts, none, m):
    """Keys no instance shares (the worst case for sums), instances without any
    key either none or a group of their own, and the population published."""
    assume(none == 0 or none >= m)
    atoms = {k: n for k, n in counts.items() if n > 0}
    atoms["none"] = none
    population = sum(atoms.values())
    fold = fold_nonpartition(counts, m, population)
    assert all(n >= m for n in fold.visible.values())
    if 0 < population < m:  # the population itself is not published: nor is the map
        assert (fold.visible, fold.published) == ({}, False)
        return
    published = [{k} for k in fold.visible] + [set(atoms)]
    if fold.published:
        assert fold.other == 0 or fold.other >= m
        published.append(set(fold.folded))
    assert small_revealed(atoms, published, m) == []


@st.composite
def instances_with_keys(draw):
    """Instances each with any subset of a few keys (plugins, achievements)."""
    return [
        frozenset(draw(st.sets(st.sampled_from("abcde"))))
        for _ in range(draw(st.integers(0, 40)))
    ]


@PROFILE
@given(instances_with_keys(), MINS)
def test_nonpartition_shows_no_key_whose_complement_is_small(instances, m):
    counts = {k: sum(k in keys for keys in instances) for k in "abcde"}
    population = len(instances)
    fold = fold_nonpartition(counts, m, population)
    for n in fold.visible.values():
        assert n >= m
        # Instances without a shown key: none or a group of at least m.
        assert population - n == 0 or population - n >= m
    if fold.published:
        assert fold.other == 0 or fold.other >= m
        assert not 0 < population - fold.other < m
    # A folded key is not named anywhere.
    assert not set(fold.visible) & set(fold.folded)


def test_examples_from_the_issue():
    # 64-bit with 59 instances next to 32-bit with 3: complementary suppression hid
    # 64-bit; the fold shows it and folds the 3 with the unknown into the remainder.
    fold = fold_partition({"64": 59, "32": 3}, 8, 10)
    assert fold.visible == {"64": 59} and fold.other == 11 and fold.unknown is None
    # A plugin on 3 instances is neither named nor published as "<10".
    plugins = fold_nonpartition(
        {"octolapse": 34, "acme_inhouse_tool": 3, "themeify": 14}, 10
    )
    assert "acme_inhouse_tool" not in plugins.visible and plugins.other >= 10


def test_a_negative_derived_unknown_publishes_no_small_group():
    # An hour's unknown Python is derived (instances - python2 - python3); inputs
    # read at different moments can make it negative. The hour: 20 instances, 5 on
    # Python 2, 15 on 3, but the 3s read as 16. A -1 unknown must neither be
    # published nor shrink the remainder below the minimum (5 - 1 = 4).
    fold = fold_partition({"2": 5, "3": 16}, -1, 10)
    published = [*fold.visible.values(), fold.other, fold.unknown]
    assert all(n is None or n == 0 or n >= 10 for n in published), fold


@st.composite
def print_days(draw):
    """Per instance, the buckets (hours) in which it finished prints, and seconds."""
    buckets = draw(st.integers(2, 10))
    prints: dict[tuple[int, int], int] = {}
    for i in range(draw(st.integers(1, 25))):
        for b in draw(st.lists(st.integers(0, buckets - 1), max_size=3)):
            prints[(i, b)] = prints.get((i, b), 0) + draw(st.integers(1, 5000))
    return buckets, prints


def _series(buckets, prints):
    values = [0] * buckets
    who: list[set] = [set() for _ in range(buckets)]
    for (i, b), seconds in prints.items():
        values[b] += seconds
        who[b].add(i)
    return values, who


def _assert_nothing_small(values, who, published, m):
    x = dict(enumerate(values))
    for buckets, value in revealed(x, published):
        instances = set().union(*(who[b] for b in buckets))
        assert value == 0 or len(instances) >= m, (buckets, value, instances)


@PROFILE
@given(print_days(), MINS)
def test_series_hidden_buckets_are_never_a_small_group(data, m):
    buckets, prints = data
    values, who = _series(buckets, prints)
    fold = fold_series(values, [len(w) for w in who], m, [range(buckets)])
    for b in range(buckets):
        if fold.shown[b]:
            assert len(who[b]) == 0 or len(who[b]) >= m
    published = [{b} for b in range(buckets) if fold.shown[b]]
    if fold.totals[0]:
        published.append(set(range(buckets)))
    _assert_nothing_small(values, who, published, m)


@PROFILE
@given(print_days(), MINS, st.integers(1, 9))
def test_series_two_windows_fold_by_segment(data, m, recent):
    """A 7-day total (the last ``recent`` buckets) beside a 30-day total: each
    segment's hidden sum must be safe, or 30-day total - 7-day total leaks."""
    buckets, prints = data
    assume(recent < buckets)
    values, who = _series(buckets, prints)
    last = range(buckets - recent, buckets)
    fold = fold_series(values, [len(w) for w in who], m, [last, range(buckets)])
    published = [{b} for b in range(buckets) if fold.shown[b]]
    published += [
        set(w) for w, shown in zip((last, range(buckets)), fold.totals) if shown
    ]
    _assert_nothing_small(values, who, published, m)


@PROFILE
@given(print_days(), MINS, st.integers(2, 4))
def test_series_groups_bound_hidden_buckets_by_their_distinct_instances(data, m, size):
    """Per group of buckets (a day's hours) the distinct instances behind it: a
    hidden sum may be published when the group shows enough instances stand
    behind it, never when they are too few."""
    buckets, prints = data
    values, who = _series(buckets, prints)
    groups = [
        (range(s, min(s + size, buckets)), len(set().union(*who[s : s + size])))
        for s in range(0, buckets, size)
    ]
    fold = fold_series(values, [len(w) for w in who], m, [range(buckets)], groups)
    published = [{b} for b in range(buckets) if fold.shown[b]]
    if fold.totals[0]:
        published.append(set(range(buckets)))
    _assert_nothing_small(values, who, published, m)


def test_day_bound_lets_a_total_of_many_small_hours_be_published():
    # 24 hours with 3 printers each, 30 distinct printers that day: every hour is
    # hidden, but the day's total stands for 30 instances.
    fold = fold_series([100] * 24, [3] * 24, 10, [range(24)], [(range(24), 30)])
    assert fold.totals == (True,) and not any(fold.shown)
    alone = fold_series([100] * 24, [3] * 24, 10, [range(24)])
    assert alone.totals == (False,)


def test_independent_folds_of_nested_windows_would_leak():
    """Why the windows are folded together: folded alone, each total is safe, but
    their difference is one instance's print seconds."""
    # Bucket 0 is older than 7 days (1 instance); buckets 1 and 2 the last 7 days.
    values, contributors = [100, 5000, 7000], [1, 12, 15]
    alone_30 = fold_series(values, contributors, 10, [range(3)])
    alone_7 = fold_series(values[1:], contributors[1:], 10, [range(2)])
    assert alone_30.totals == (True,) and alone_7.totals == (True,)
    # 30-day total - 7-day total = bucket 0, one instance: what the joint fold stops.
    together = fold_series(values, contributors, 10, [range(1, 3), range(3)])
    assert together.totals == (True, False)
    assert together.shown == (False, True, True)


def test_random_realistic_maps_keep_the_rule():
    rng = random.Random(1)
    for _ in range(200):
        counts = {
            f"k{i}": int(rng.paretovariate(1.2) * 3) for i in range(rng.randint(1, 9))
        }
        fold = fold_partition(counts, rng.randint(0, 20), 10)
        if fold.published:
            assert fold.other == 0 or fold.other >= 10
