"""Logic-grid (zebra) puzzles: clue semantics, a propagating solver, and a generator.

A puzzle has ``n`` houses in a row and ``m`` attributes, each with ``n`` values; every
value sits in exactly one house. A *cell* is ``(attribute, value)`` and its unknown is the
house it lives in. The solver keeps, for every cell, a bitmask of still-possible houses and
propagates the clues plus "each house holds exactly one value of each attribute" (naked and
hidden singles) to a fixpoint, then branches on the smallest domain to count solutions up
to a limit.

The generator draws a random solution, adds random true clues — keeping only those that
tighten the propagated domains — until propagation alone pins every cell, prunes clues
that turn out redundant, and finally proves uniqueness with ``count_solutions(limit=2)``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CLUE_KINDS",
    "Cell",
    "Clue",
    "Puzzle",
    "count_solutions",
    "generate",
    "solve",
]

Cell = tuple[int, int]
"""``(attribute index, value index)``."""

CLUE_KINDS = (
    "position",
    "not_position",
    "same",
    "not_same",
    "left_of",
    "somewhere_left",
    "next_to",
)
"""``left_of`` means *directly* left (house + 1); ``somewhere_left`` any house further left."""

# Sampling weights: relational clues make the interesting puzzles; position clues anchor.
_WEIGHTS = (1, 1, 3, 1, 2, 1, 2)


@dataclass(frozen=True)
class Clue:
    """One clue. ``house`` is 0-based and used by the position kinds only."""

    kind: str
    x: Cell
    y: Cell | None = None
    house: int | None = None

    def holds(self, house_of: dict[Cell, int]) -> bool:
        """Whether the clue is true for a full assignment ``cell -> house``."""
        hx = house_of[self.x]
        if self.kind == "position":
            return hx == self.house
        if self.kind == "not_position":
            return hx != self.house
        assert self.y is not None
        hy = house_of[self.y]
        return {
            "same": hx == hy,
            "not_same": hx != hy,
            "left_of": hx + 1 == hy,
            "somewhere_left": hx < hy,
            "next_to": abs(hx - hy) == 1,
        }[self.kind]


@dataclass(frozen=True)
class Puzzle:
    """A generated puzzle with its unique solution (``solution[a][v]`` = house of cell)."""

    n_houses: int
    n_attrs: int
    solution: tuple[tuple[int, ...], ...]
    clues: tuple[Clue, ...]

    def house_of(self) -> dict[Cell, int]:
        """The solution as ``cell -> house``."""
        return {(a, v): h for a, row in enumerate(self.solution) for v, h in enumerate(row)}


def _lowest(mask: int) -> int:
    return (mask & -mask).bit_length() - 1


class _Contradiction(Exception):
    """Some cell has no house left: the clues cannot all hold."""


def _apply_pairs(dom: list[int], pairs: list[tuple[str, int, int]], full: int) -> bool:
    """One pass of every two-cell clue over ``dom`` (in place); True when anything changed."""
    changed = False
    for kind, i, j in pairs:
        dx, dy = dom[i], dom[j]
        if kind == "same":
            nx = ny = dx & dy
        elif kind == "not_same":
            nx = dx & ~dy if dy & (dy - 1) == 0 else dx
            ny = dy & ~dx if dx & (dx - 1) == 0 else dy
        elif kind == "left_of":
            ny = dy & (dx << 1) & full
            nx = dx & (ny >> 1)
        elif kind == "somewhere_left":
            nx = dx & ((1 << (dy.bit_length() - 1)) - 1) if dy else 0
            ny = dy & full & ~((1 << (_lowest(nx) + 1)) - 1) if nx else 0
        else:  # next_to
            ny = dy & ((dx << 1) | (dx >> 1)) & full
            nx = dx & ((ny << 1) | (ny >> 1)) & full
        if nx != dx:
            if not nx:
                raise _Contradiction
            dom[i] = nx
            changed = True
        if ny != dom[j]:
            if not ny:
                raise _Contradiction
            dom[j] = ny
            changed = True
    return changed


def _singles(dom: list[int], base: int, n: int) -> bool:
    """Naked and hidden singles in one attribute's ``n`` cells; True when anything changed."""
    changed = False
    cells = dom[base : base + n]
    # Naked singles: a cell fixed to a house removes that house from its siblings.
    for v, d in enumerate(cells):
        if d & (d - 1) == 0:
            for w in range(n):
                if w != v and cells[w] & d:
                    cells[w] &= ~d
                    if not cells[w]:
                        raise _Contradiction
                    changed = True
    # Hidden singles: a house only one cell can take must be that cell's.
    for h in range(n):
        bit = 1 << h
        holders = [v for v in range(n) if cells[v] & bit]
        if not holders:
            raise _Contradiction
        if len(holders) == 1 and cells[holders[0]] != bit:
            cells[holders[0]] = bit
            changed = True
    dom[base : base + n] = cells
    return changed


def _propagate(dom: list[int], clues: Sequence[Clue], n: int, m: int) -> bool:
    """Tighten ``dom`` in place to a fixpoint; False when some cell has no house left."""
    full = (1 << n) - 1
    pairs: list[tuple[str, int, int]] = []
    try:
        for c in clues:
            i = c.x[0] * n + c.x[1]
            if c.kind not in ("position", "not_position"):
                assert c.y is not None
                pairs.append((c.kind, i, c.y[0] * n + c.y[1]))
                continue
            # A one-cell clue holds for good once applied: domains only ever shrink.
            assert c.house is not None
            bit = 1 << c.house
            narrowed = dom[i] & bit if c.kind == "position" else dom[i] & ~bit
            if not narrowed:
                raise _Contradiction
            dom[i] = narrowed
        changed = True
        while changed:
            changed = _apply_pairs(dom, pairs, full)
            for a in range(m):
                changed = _singles(dom, a * n, n) or changed
    except _Contradiction:
        return False
    return True


def _solved(dom: list[int]) -> bool:
    return all(d & (d - 1) == 0 for d in dom)


def _search(
    dom: list[int], clues: Sequence[Clue], n: int, m: int, limit: int, found: list[list[int]]
) -> int:
    if not _propagate(dom, clues, n, m):
        return 0
    best, best_size = -1, n + 1
    for i, d in enumerate(dom):
        size = d.bit_count()
        if 1 < size < best_size:
            best, best_size = i, size
    if best < 0:
        # Every cell is fixed and the fixpoint raised no contradiction, so every clue and
        # every all-different constraint is satisfied: this is a solution.
        found.append(dom)
        return 1
    total = 0
    mask = dom[best]
    while mask and total < limit:
        bit = mask & -mask
        mask ^= bit
        child = dom.copy()
        child[best] = bit
        total += _search(child, clues, n, m, limit - total, found)
    return total


def count_solutions(n: int, m: int, clues: Sequence[Clue], limit: int = 2) -> int:
    """Number of solutions, counted up to ``limit`` (2 is enough to prove uniqueness)."""
    return _search([(1 << n) - 1] * (n * m), clues, n, m, limit, [])


def solve(n: int, m: int, clues: Sequence[Clue]) -> tuple[tuple[int, ...], ...] | None:
    """The first solution found (``solution[a][v]`` = house), or None if there is none."""
    found: list[list[int]] = []
    _search([(1 << n) - 1] * (n * m), clues, n, m, 1, found)
    if not found:
        return None
    dom = found[0]
    return tuple(tuple(_lowest(dom[a * n + v]) for v in range(n)) for a in range(m))


def _random_clue(rng: random.Random, solution: list[list[int]], n: int, m: int) -> Clue | None:
    """A random clue that is true of ``solution`` (None when the draw does not fit)."""
    kind = rng.choices(CLUE_KINDS, weights=_WEIGHTS)[0]
    a, v = rng.randrange(m), rng.randrange(n)
    hx = solution[a][v]
    if kind == "position":
        return Clue(kind, (a, v), house=hx)
    if kind == "not_position":
        return Clue(kind, (a, v), house=rng.choice([h for h in range(n) if h != hx]))
    if kind in ("same", "not_same") and m < 2:
        return None
    b = (
        rng.choice([x for x in range(m) if x != a])
        if kind in ("same", "not_same")
        else rng.randrange(m)
    )
    where = {solution[b][w]: w for w in range(n)}  # house -> value of attribute b
    if kind == "same":
        target = hx
    elif kind == "not_same":
        target = rng.choice([h for h in range(n) if h != hx])
    elif kind == "left_of":
        if hx == n - 1:
            return None
        target = hx + 1
    elif kind == "somewhere_left":
        if hx == n - 1:
            return None
        target = rng.randrange(hx + 1, n)
    else:  # next_to
        target = rng.choice([h for h in (hx - 1, hx + 1) if 0 <= h < n])
    y = (b, where[target])
    if y == (a, v):
        return None
    return Clue(kind, (a, v), y)


def generate(rng: random.Random, n: int, m: int, prune: bool = True) -> Puzzle:
    """A random puzzle with exactly one solution.

    Clues are added until propagation alone fixes every cell (so a careful reader never
    has to guess), then — if ``prune`` — each clue is dropped when the rest still pins the
    grid. Uniqueness is then re-proved by search.
    """
    if n < 2 or m < 1:
        raise ValueError("a zebra puzzle needs at least 2 houses and 1 attribute")
    solution = [rng.sample(range(n), n) for _ in range(m)]
    full = (1 << n) - 1
    dom = [full] * (n * m)
    clues: list[Clue] = []
    while not _solved(dom):
        clue = _random_clue(rng, solution, n, m)
        if clue is None or clue in clues:
            continue
        trial = dom.copy()
        ok = _propagate(trial, [*clues, clue], n, m)
        assert ok, "a clue true of the solution can never contradict it"
        if trial != dom:
            clues.append(clue)
            dom = trial
    if prune:
        order = list(range(len(clues)))
        rng.shuffle(order)
        keep = [True] * len(clues)
        for idx in order:
            keep[idx] = False
            rest = [c for c, k in zip(clues, keep, strict=True) if k]
            trial = [full] * (n * m)
            if not (_propagate(trial, rest, n, m) and _solved(trial)):
                keep[idx] = True
        clues = [c for c, k in zip(clues, keep, strict=True) if k]
    rng.shuffle(clues)
    if count_solutions(n, m, clues, limit=2) != 1:
        raise AssertionError("generated zebra puzzle is not unique")  # a solver bug
    return Puzzle(n, m, tuple(tuple(row) for row in solution), tuple(clues))
