"""zebra: uniqueness re-checked by independent brute force, speed, prompts and scoring."""

from __future__ import annotations

import itertools
import random

import pytest

from overthink.core import AnswerKind
from overthink.tasks import get_task
from overthink.tasks.zebra import ATTRIBUTES
from overthink.tasks.zebra_solver import Clue, count_solutions, generate, solve


def _satisfied(clue: Clue, house: dict[tuple[int, int], int]) -> bool:
    """Clue semantics written out again here, independently of ``Clue.holds``."""
    x = house[clue.x]
    if clue.kind == "position":
        return x == clue.house
    if clue.kind == "not_position":
        return x != clue.house
    assert clue.y is not None
    y = house[clue.y]
    if clue.kind == "same":
        return x == y
    if clue.kind == "not_same":
        return x != y
    if clue.kind == "left_of":
        return y - x == 1
    if clue.kind == "somewhere_left":
        return x < y
    if clue.kind == "next_to":
        return x - y in (-1, 1)
    raise AssertionError(clue.kind)


def _brute_force(n: int, m: int, clues: tuple[Clue, ...]) -> list[dict[tuple[int, int], int]]:
    """Every assignment satisfying the clues: permutations attribute by attribute, checking
    a clue as soon as all its attributes are placed (plain enumeration, no propagation)."""
    attrs_of = [{c.x[0]} | ({c.y[0]} if c.y else set()) for c in clues]
    solutions: list[dict[tuple[int, int], int]] = []

    def place(a: int, house: dict[tuple[int, int], int]) -> None:
        if a == m:
            solutions.append(dict(house))
            return
        for perm in itertools.permutations(range(n)):
            for v in range(n):
                house[(a, v)] = perm[v]
            if all(
                _satisfied(c, house)
                for c, used in zip(clues, attrs_of, strict=True)
                if a in used and max(used) == a
            ):
                place(a + 1, house)
        for v in range(n):
            house.pop((a, v), None)

    place(0, {})
    return solutions


@pytest.mark.parametrize(("n", "count"), [(3, 30), (4, 30)])
def test_uniqueness_rechecked_by_brute_force(n: int, count: int) -> None:
    for k in range(count):
        puzzle = generate(random.Random(f"bf{n}-{k}"), n, n)
        sols = _brute_force(n, n, puzzle.clues)
        assert len(sols) == 1
        assert sols[0] == puzzle.house_of()


def test_brute_force_sees_ambiguity_when_a_clue_is_removed() -> None:
    # The generator prunes redundant clues, so dropping any one clue should usually make the
    # puzzle ambiguous — proving the check above is able to fail.
    ambiguous = 0
    for k in range(10):
        puzzle = generate(random.Random(f"drop{k}"), 3, 3)
        sols = _brute_force(3, 3, puzzle.clues[1:])
        assert len(sols) >= 1
        ambiguous += len(sols) > 1
        assert (count_solutions(3, 3, puzzle.clues[1:]) > 1) == (len(sols) > 1)
    assert ambiguous >= 5


def test_solver_finds_the_solution_and_counts() -> None:
    puzzle = generate(random.Random(1), 5, 4)
    assert solve(5, 4, puzzle.clues) == puzzle.solution
    assert count_solutions(5, 4, puzzle.clues, limit=5) == 1
    assert count_solutions(3, 2, [], limit=100) == 36  # (3!)^2 with no clues
    contradiction = [Clue("position", (0, 0), house=0), Clue("position", (0, 1), house=0)]
    assert count_solutions(3, 1, contradiction) == 0
    assert solve(3, 1, contradiction) is None


def test_eight_by_eight_is_a_valid_unique_puzzle() -> None:
    # How fast this is generated is measured in benchmarks/bench_zebra.py, not here.
    puzzle = generate(random.Random("big"), 8, 8)
    assert all(c.holds(puzzle.house_of()) for c in puzzle.clues)
    assert count_solutions(8, 8, puzzle.clues, limit=2) == 1


def test_grid_knob_and_prompt() -> None:
    task = get_task("zebra")
    for size in (3, 5, 8):
        (s,) = task.samples(1, 0, grid=size)
        assert s.kind is AnswerKind.EXACT
        assert s.meta["grid"] == size
        assert f"There are {size} houses" in s.prompt
        options = s.meta["options"].split(",")
        assert len(options) == size and s.target in options
        assert s.prompt.count("\n- ") == size  # one line per attribute
        assert f"{s.meta['n_clues']}. " in s.prompt
    small = [len(s.prompt) for s in task.samples(5, 0, grid=3)]
    big = [len(s.prompt) for s in task.samples(5, 0, grid=6)]
    assert max(small) < min(big)


def test_grid_bounds() -> None:
    task = get_task("zebra")
    with pytest.raises(ValueError, match="maximum 8"):
        task.samples(1, 0, grid=9)
    with pytest.raises(ValueError, match="minimum 3"):
        task.samples(1, 0, grid=2)


def test_scoring_accepts_the_value_within_a_phrase() -> None:
    task = get_task("zebra")
    (s,) = task.samples(1, 2, grid=4)
    others = [o for o in s.meta["options"].split(",") if o != s.target]
    assert task.score(s, task.extract(s, f"<answer>the {s.target}</answer>")) == 1.0
    assert task.score(s, task.extract(s, f"<answer>{s.target.upper()}</answer>")) == 1.0
    assert task.score(s, task.extract(s, f"<answer>{others[0]}</answer>")) == 0.0
    # Naming two values is a hedge, not an answer.
    assert task.score(s, f"{s.target} or {others[0]}") == 0.0
    assert task.score(s, None) == 0.0


def test_attribute_values_are_distinct_words() -> None:
    words = [v.lower() for a in ATTRIBUTES for v in a.values]
    assert len(words) == len(set(words))
    assert all(len(a.values) >= 8 for a in ATTRIBUTES) and len(ATTRIBUTES) >= 8


def test_phrasings_of_one_option_are_one_vote() -> None:
    from overthink.tasks.extract import answer_key

    task = get_task("zebra")
    s = task.samples(1, 2, grid=3)[0]
    other = next(o for o in str(s.meta["options"]).split(",") if o != s.target)
    replies = [f"<answer>the {s.target}</answer>", f"The answer is {s.target}.", s.target]
    parsed = [task.extract(s, r) for r in replies]
    assert parsed == [s.target] * 3
    assert len({answer_key(a, s.kind) for a in parsed}) == 1  # one class for the vote
    assert task.extract(s, f"<answer>the {other}</answer>") == other
    # Naming two options is not reduced to either: it stays as written, and scores 0.
    both = task.extract(s, f"<answer>{s.target} or {other}</answer>")
    assert both not in (s.target, other) and task.score(s, both) == 0.0
