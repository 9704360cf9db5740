"""The small-group rule: every published figure a number, no small group revealed.

A *group* is the set of instances with one value of a field (a map key), or
``unknown`` (instances that never sent the field). A group of fewer than
``min_group`` instances (but not none) is *hidden*: never published and never
named, since a rare value (a private plugin, a small country) can point at its
owner. Hidden groups are *folded* into the map's remainder, ``<field>_other``,
published beside the map as a number. The rule, for everything published from one
snapshot of the rollups (see ``figures.py``):

* every published group count is at least ``min_group``;
* every remainder, and every figure a reader can derive from published figures
  by adding and subtracting them, is 0 or at least ``min_group``.

Only as much is folded as that needs. The functions here decide, per map, what is
shown; they are pure functions of counts, and everything public (exports,
/api/stats, history, the dashboard, plugin pages) is built from their results:

* :func:`fold_partition`: every instance in exactly one key or ``unknown``, with
  the total published elsewhere (OctoPrint version, OS, ...);
* :func:`fold_nonpartition`: an instance in any number of keys (plugins,
  achievements);
* :func:`fold_nested`: a child map refining a parent map (browser ->
  ``browser/major``, plugin -> its versions);
* :func:`fold_series`: buckets of an additive figure with window totals (print
  seconds per hour and their total, print outcomes per day and per window).

Differences between windows (24 h, 7 days, 30 days) and days of distinct instance
counts are accepted, see the README's privacy notes; additive figures are folded
across nested windows too (:func:`fold_series`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class _Unknown:
    """The ``unknown`` group of a partition, as a member of :attr:`Fold.folded`."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Fold:
    """What one map publishes."""

    visible: dict[str, int]
    """Key -> count, each at least the minimum, largest first."""
    other: int | None
    """The remainder (0 or at least the minimum); None: the map is not published
    at all (its population is below the minimum)."""
    unknown: int | None
    """Instances without the field, published apart (0 or at least the minimum);
    None when folded into ``other`` (or for maps without an unknown)."""
    folded: frozenset = frozenset()
    """Keys (and :data:`UNKNOWN`) counted in ``other`` (tests, measurements)."""
    extra: tuple = ()
    """Keys folded although big enough, to keep a difference safe."""

    @property
    def published(self) -> bool:
        return self.other is not None

    def fields(self, name: str, wrap: bool = False) -> dict[str, Any]:
        """The map and its siblings as a document has them: ``{name: {key: n},
        name_other: n, name_unknown: n}`` (``wrap``: each value ``{"instances":
        n}``); nothing but an empty map when the map is not published."""

        def value(n: int) -> Any:
            return {"instances": n} if wrap else n

        result: dict[str, Any] = {name: {k: value(n) for k, n in self.visible.items()}}
        if self.other is not None:
            result[f"{name}_other"] = value(self.other)
        if self.unknown is not None:
            result[f"{name}_unknown"] = value(self.unknown)
        return result


NOTHING = Fold({}, None, None)


def shown_count(n: int, min_group: int) -> int | None:
    """A single count of instances as published: itself if none or at least the
    minimum (an empty group reveals nobody); None (left out) otherwise."""
    return n if n == 0 or n >= min_group else None


def _ordered(counts: Mapping[str, int], keys: Iterable[str]) -> dict[str, int]:
    # Largest first: data.octoprint.org takes the first entries as its top list.
    return {k: counts[k] for k in sorted(keys, key=lambda k: (-counts[k], str(k)))}


def _smallest(counts: Mapping[str, int], keys: Iterable[str]) -> str:
    return min(keys, key=lambda k: (counts[k], str(k)))


def fold_partition(
    counts: Mapping[str, int],
    unknown: int,
    min_group: int,
    forced: Iterable[str] = (),
) -> Fold:
    """Fold a partition: every instance of the population is in exactly one key
    or in ``unknown``, and the population's total T = sum + unknown is published
    (instance_stats.count, an hour's count, ...). Keys in ``forced`` are folded
    whatever their size (a key the readers cannot show).

    Hidden groups are folded; when their sum r is 0 < r < min, ONE more group is
    folded: ``unknown`` if it is published (no reader reads it), else the smallest
    key. Every candidate holds at least min, so r >= min after it, and with
    0 < r < min some published group has to go, so one is the least that works.
    Then every published row (keys, remainder, unknown, T) is constant on the
    folded block: whatever a reader derives either holds the whole block (>= min)
    or none of it (a sum of published groups). If 0 < T < min nothing is
    published (T itself would be a small group); an empty population publishes
    its zeros.
    """
    counts = {k: n for k, n in counts.items() if n > 0}
    # A derived unknown (a published total minus its keys) below 0 means inputs
    # that disagree; counted as 0, it can neither be published nor shrink the
    # remainder below the minimum.
    unknown = max(0, unknown)
    total = sum(counts.values()) + unknown
    if 0 < total < min_group:
        return NOTHING
    forced = set(forced)
    folded = {k for k, n in counts.items() if n < min_group or k in forced}
    rest = sum(counts[k] for k in folded)
    shown_unknown: int | None = unknown
    if 0 < unknown < min_group:
        folded.add(UNKNOWN)
        rest += unknown
        shown_unknown = None
    extra: tuple = ()
    if 0 < rest < min_group:
        if shown_unknown:
            folded.add(UNKNOWN)
            rest += unknown
            shown_unknown, extra = None, (UNKNOWN,)
        else:
            key = _smallest(counts, (k for k in counts if k not in folded))
            folded.add(key)
            rest += counts[key]
            extra = (key,)
    visible = _ordered(counts, (k for k in counts if k not in folded))
    return Fold(visible, rest, shown_unknown, frozenset(folded), extra)


def fold_nonpartition(
    counts: Mapping[str, int], min_group: int, population: int | None = None
) -> Fold:
    """Fold a map whose keys overlap (plugins, achievements: an instance has many).

    A key is shown with at least min instances, and, when the population it is
    part of is published (``population``: the window's instances, the instances
    that report achievements), only if the instances WITHOUT it are none or at
    least min too: population - count is a difference of published numbers. A
    population of 1 to min - 1 publishes nothing. The
    remainder (the folded keys' counts summed: instance-key pairs, not instances)
    is 0 or at least min, and so is the population minus it; a key more is folded
    until it is. The rollups hold each key's count, not which keys occur
    together, so a difference of two keys of which one implies the other is not
    seen here (see the README).
    """
    counts = {k: n for k, n in counts.items() if n > 0}

    def hidden(n: int) -> bool:
        return 0 < n < min_group

    if population is not None and hidden(population):
        return Fold({}, None, None, frozenset(counts))  # as for a partition

    folded = {
        k
        for k, n in counts.items()
        if hidden(n) or (population is not None and hidden(population - n))
    }
    rest = sum(counts[k] for k in folded)
    extra: list[str] = []
    while hidden(rest) or (population is not None and hidden(population - rest)):
        candidates = [k for k in counts if k not in folded]
        if not candidates:
            return Fold({}, None, None, frozenset(counts), tuple(extra))
        key = _smallest(counts, candidates)
        folded.add(key)
        rest += counts[key]
        extra.append(key)
    visible = _ordered(counts, (k for k in counts if k not in folded))
    return Fold(visible, rest, None, frozenset(folded), tuple(extra))


def fold_subsets(
    counts: Mapping[str, int], shown: Fold, min_group: int, within: bool = False
) -> dict[str, int]:
    """Instances that did something per key of a folded map (installed or
    uninstalled a plugin): shown only for a key the map shows (a folded key is not
    named), when at least min; ``within``: they are mostly among the key's
    instances (installers still use the plugin), so the key's instances without
    them must be none or at least min too."""
    result = {}
    for key, n in counts.items():
        base = shown.visible.get(key)
        if base is None or n < min_group or (within and 0 < base - n < min_group):
            continue
        result[key] = n
    return result


@dataclass(frozen=True)
class NestedFold:
    """A parent map and, per shown parent, the fold of its children."""

    parent: Fold
    children: dict[str, Fold]
    """Shown parent -> the fold of its children (a partition of its count)."""
    other: int | None
    """The child map's remainder as one map (browser_version: folded parents and
    every parent's folded children); None where the parent map is no partition
    or not published."""
    unknown: int | None
    """The child map's unknown as one map (the parent's unknown and every shown
    parent's children without a value), where ``other`` is given."""


def fold_nested(
    parents: Mapping[str, int],
    children: Mapping[str, Mapping[str, int]],
    unknown: int,
    min_group: int,
    population: int | None = None,
) -> NestedFold:
    """Fold a child map that refines a parent map (browser -> "browser/major",
    plugin -> version).

    ``children[p]``: child value -> count among parent ``p``'s instances; the
    parent's instances without a child value are its child unknown. The parents
    are folded first (a partition with ``unknown``, or, with ``population``
    given, a non-partition). A folded parent's children are never published:
    their keys name it. Each shown parent's children are folded as a partition of
    its published count, so that count minus its shown children is its child
    remainder, 0 or >= min.
    """
    if population is None:
        parent = fold_partition(parents, unknown, min_group)
    else:
        parent = fold_nonpartition(parents, min_group, population)
    folds = {}
    for p, n in parent.visible.items():
        kids = {c: k for c, k in children.get(p, {}).items() if k > 0}
        folds[p] = fold_partition(kids, max(0, n - sum(kids.values())), min_group)
    if population is not None or parent.other is None:
        return NestedFold(parent, folds, None, None)
    # Sums of parts that are each 0 or >= min, so 0 or >= min themselves.
    other = parent.other + sum(f.other or 0 for f in folds.values())
    unknown_all = (parent.unknown or 0) + sum(f.unknown or 0 for f in folds.values())
    return NestedFold(parent, folds, other, unknown_all)


@dataclass(frozen=True)
class SeriesFold:
    """What a series of additive buckets with window totals publishes."""

    shown: tuple[bool, ...]
    """Per bucket: its value is published."""
    totals: tuple[bool, ...]
    """Per window (as given): its total is published."""
    extra: tuple[int, ...] = ()
    """Buckets hidden although big enough, to keep a hidden sum safe."""


def _nonzero(value: Any) -> bool:
    return any(value) if isinstance(value, (tuple, list)) else bool(value)


def fold_series(
    values: Sequence[Any],
    contributors: Sequence[int],
    min_group: int,
    windows: Sequence[Iterable[int]] = (),
    groups: Sequence[tuple[Iterable[int], int]] = (),
) -> SeriesFold:
    """Fold buckets of an additive figure (print seconds per hour, print outcomes
    per day) whose totals over ``windows`` (nested, smallest first: the last 7
    days within the last 30) are published too.

    ``contributors[b]``: distinct instances behind bucket b. A bucket is shown
    with none or at least min of them. A published window total makes the sum of
    its hidden buckets derivable, and with two windows so is each *segment* (the
    last 7 days; the 23 days before them: 30-day total - 7-day total): the
    instances behind each segment's hidden sum must be at least min. The rollups
    give a lower bound of them: the largest hidden bucket's contributors, and per
    ``groups`` entry (buckets, distinct instances across them: a day's hours and
    the instances that finished a print that day) those instances minus the
    contributors of its buckets that are not hidden. Below min, the shown bucket
    of the segment with the fewest contributors is hidden too (then the bound is
    at least its count); a segment without one cannot be made safe, and the total
    that bounds it from outside is not published.
    """
    n = len(values)
    hidden = {b for b in range(n) if 0 < contributors[b] < min_group}
    spans = [frozenset(w) for w in windows]
    order = sorted(range(len(spans)), key=lambda i: len(spans[i]))
    published = list(order)
    group_list = [(frozenset(g), d) for g, d in groups]
    extra: list[int] = []

    def bound(block: set[int]) -> int:
        best = max(contributors[b] for b in block)
        for members, distinct in group_list:
            if members & block:
                best = max(best, distinct - sum(contributors[b] for b in members - block))
        return best

    changed = True
    while changed:
        changed = False
        inner: frozenset = frozenset()
        for position, i in enumerate(published):
            segment = spans[i] - inner
            inner = spans[i]
            block = hidden & segment
            if not any(_nonzero(values[b]) for b in block) or bound(block) >= min_group:
                continue
            candidates = [b for b in segment - hidden if contributors[b] > 0]
            if candidates:
                # Fewest instances first; the same choice in every view.
                b = min(candidates, key=lambda b: (contributors[b], b))
                hidden.add(b)
                extra.append(b)
            else:
                del published[position]
            changed = True
            break
    return SeriesFold(
        tuple(b not in hidden for b in range(n)),
        tuple(i in published for i in range(len(spans))),
        tuple(extra),
    )


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded for publication; None without a whole."""
    return round(part / whole, 4) if whole else None
