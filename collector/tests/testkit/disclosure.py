"""What can be derived from published figures by adding and subtracting them.

Model: the data are counts x[a] of disjoint *atoms* (instances with os=freebsd;
instances with a key seen in the last 7 days, ...). Every published figure is the
sum of x over a set of atoms. A reader can form any rational linear combination of
published figures; it reveals the size of a set of atoms S exactly when the
indicator of S lies in the span of the published sets.

``revealed(x, published)`` lists every such S (as unions of cells: atoms in exactly
the same published sets cannot be told apart) with its size, so a test can assert
that none is a positive count below the minimum. Exact (fractions), for the small
examples of property tests (at most ~16 cells).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction
from itertools import combinations


def _cells(atoms: Iterable[Hashable], published: list[frozenset]) -> list[frozenset]:
    signature: dict[tuple, set] = {}
    for atom in atoms:
        signature.setdefault(tuple(atom in s for s in published), set()).add(atom)
    # Atoms in no published set are never revealed: their cell is dropped.
    return [frozenset(c) for sig, c in signature.items() if any(sig)]


def _basis(rows: list[list[Fraction]]) -> list[tuple[list[Fraction], int]]:
    """Row-reduced basis of the span of ``rows``: (row, pivot column) pairs."""
    basis: list[tuple[list[Fraction], int]] = []
    for row in rows:
        row = _reduce(row, basis)
        lead = next((i for i, x in enumerate(row) if x), None)
        if lead is None:
            continue
        row = [x / row[lead] for x in row]
        basis = [
            ([x - b[lead] * y for x, y in zip(b, row)], p) if b[lead] else (b, p)
            for b, p in basis
        ]
        basis.append((row, lead))
    return basis


def _reduce(vector: list[Fraction], basis) -> list[Fraction]:
    for row, pivot in basis:
        if vector[pivot]:
            factor = vector[pivot]
            vector = [x - factor * y for x, y in zip(vector, row)]
    return vector


def revealed(
    x: Mapping[Hashable, int], published: Iterable[Iterable[Hashable]], max_cells=16
) -> list[tuple[frozenset, int]]:
    """Every union S of cells whose size the published sums determine: (S, size)."""
    sets = [frozenset(s) for s in published if s]
    cells = _cells(x, sets)
    if len(cells) > max_cells:
        raise ValueError(f"{len(cells)} cells: too many to enumerate")
    basis = _basis([[Fraction(1 if c <= s else 0) for c in cells] for s in sets])
    found = []
    for k in range(1, len(cells) + 1):
        for combo in combinations(range(len(cells)), k):
            vector = [Fraction(1 if i in combo else 0) for i in range(len(cells))]
            if not any(_reduce(vector, basis)):
                union = frozenset().union(*(cells[i] for i in combo))
                found.append((union, sum(x[a] for a in union)))
    return found


def small_revealed(x, published, min_group: int) -> list[tuple[frozenset, int]]:
    """The revealed sets that hold someone but fewer than the minimum (none, if the
    publication keeps the small-group rule)."""
    return [(s, n) for s, n in revealed(x, published) if 0 < n < min_group]
