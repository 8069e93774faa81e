"""zebra: logic-grid puzzles with a provably unique solution; the question asks one cell.

The knob ``grid`` sets both the number of houses and the number of attributes (3..8, so
``grid=5`` is a 5x5 puzzle). Clues are of the usual kinds — position, not-position,
same-house, different-house, directly-left-of, somewhere-left-of, next-to — and the
generator (``zebra_solver``) proves uniqueness.

Knob ``scoring`` (default ``cell``):

* ``cell`` — the question asks one cell; exact match on the asked attribute's value, and
  an answer naming exactly one value of that attribute counts as that value (so "the
  Norwegian" matches "Norwegian"). Cheap to answer, so small models and short answer
  caps can be measured;
* ``grid`` — the paper's whole-grid accuracy: the model gives every house's value of
  every attribute as JSON, scored 1 only when the whole grid is right
  (:mod:`overthink.tasks.zebra_grid`). The answer is long: raise ``--max-answer-tokens``
  (``meta["answer_tokens_needed"]`` estimates it; ``run`` notes when the cap is lower).
"""

from __future__ import annotations

import random
import re
from typing import Any

from overthink.core import AnswerKind, Sample
from overthink.errors import ConfigError
from overthink.tasks import extract
from overthink.tasks.base import Knob, Task
from overthink.tasks.formats import word_instruction
from overthink.tasks.registry import register
from overthink.tasks.rubric import AGREES_TEXT, FINISHED, ONE_OPTION, PRESENT, TAGGED
from overthink.tasks.zebra_grid import grid_answer, grid_instruction, grid_target, score_grid
from overthink.tasks.zebra_solver import Clue, Puzzle, generate

__all__ = ["ATTRIBUTES", "Attribute", "Zebra", "render_clue"]

MIN_GRID, MAX_GRID = 3, 8


class Attribute:
    """An attribute kind: its label, its values, and how to name the person having one."""

    def __init__(self, key: str, label: str, values: list[str], person: str) -> None:
        self.key = key
        self.label = label
        self.values = values
        self.person = person
        """Template naming the person who has value ``{v}``."""

    def describe(self, value: str) -> str:
        """Noun phrase for the person with ``value`` ("the person who drinks tea")."""
        return self.person.format(v=value)


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("nationality", "nationality",
              ["British", "Swedish", "Danish", "Norwegian", "German", "Spanish", "Japanese",
               "Italian"], "the {v} person"),
    Attribute("colour", "house colour",
              ["red", "green", "white", "yellow", "blue", "purple", "orange", "grey"],
              "the person in the {v} house"),
    Attribute("pet", "pet",
              ["dog", "cat", "bird", "zebra", "horse", "rabbit", "turtle", "hamster"],
              "the person who keeps the {v}"),
    Attribute("drink", "drink",
              ["tea", "coffee", "milk", "water", "juice", "cocoa", "lemonade", "soda"],
              "the person who drinks {v}"),
    Attribute("hobby", "hobby",
              ["painting", "chess", "gardening", "cycling", "reading", "fishing", "dancing",
               "knitting"], "the person whose hobby is {v}"),
    Attribute("food", "favourite food",
              ["pizza", "sushi", "pasta", "curry", "tacos", "salad", "soup", "burgers"],
              "the person who eats {v}"),
    Attribute("music", "favourite music",
              ["jazz", "rock", "pop", "classical", "blues", "reggae", "folk", "techno"],
              "the person who listens to {v}"),
    Attribute("job", "job",
              ["teacher", "doctor", "baker", "pilot", "artist", "farmer", "lawyer", "nurse"],
              "the {v}"),
    Attribute("flower", "flower",
              ["roses", "tulips", "daisies", "lilies", "orchids", "violets", "irises",
               "peonies"], "the person who grows {v}"),
    Attribute("sport", "sport",
              ["tennis", "football", "golf", "hockey", "rugby", "swimming", "boxing", "skiing"],
              "the person whose sport is {v}"),
)  # fmt: skip

_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def render_clue(clue: Clue, attrs: list[Attribute], values: list[list[str]]) -> str:
    """The clue as an English sentence, given the puzzle's attributes and value names."""

    def who(cell: tuple[int, int]) -> str:
        a, v = cell
        return attrs[a].describe(values[a][v])

    x = who(clue.x)
    if clue.kind == "position":
        assert clue.house is not None
        return _cap(f"{x} lives in the {_ORDINALS[clue.house]} house.")
    if clue.kind == "not_position":
        assert clue.house is not None
        return _cap(f"{x} does not live in the {_ORDINALS[clue.house]} house.")
    assert clue.y is not None
    y = who(clue.y)
    return _cap(
        {
            "same": f"{x} and {y} live in the same house.",
            "not_same": f"{x} and {y} live in different houses.",
            "left_of": f"{x} lives directly to the left of {y}.",
            "somewhere_left": f"{x} lives somewhere to the left of {y}.",
            "next_to": f"{x} and {y} live next to each other.",
        }[clue.kind]
    )


@register
class Zebra(Task):
    """Logic-grid puzzles (n houses x n attributes) with a unique, solver-proved solution."""

    name = "zebra"
    rubric = (PRESENT, ONE_OPTION, TAGGED, FINISHED, AGREES_TEXT)
    description = "Logic-grid puzzles with a unique solution; ask for one cell (exact match)."
    knobs = (
        Knob(
            "grid",
            (3, 4, 5, 6),
            "houses = attributes per puzzle",
            minimum=MIN_GRID,
            maximum=MAX_GRID,
        ),
        Knob(
            "scoring",
            ("cell",),
            "cell: ask one cell (exact match); grid: the whole grid as JSON, scored as "
            "the paper does (all cells right)",
            kind=str,
            choices=("cell", "grid"),
        ),
    )
    answer_kind = AnswerKind.EXACT

    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        """``n`` puzzles of size ``grid`` x ``grid``."""
        resolved = self.resolve_levels(levels)
        size, scoring = resolved["grid"], resolved["scoring"]
        if n < 0:
            raise ConfigError("n must be >= 0")
        if scoring == "grid":
            return [self._grid_sample(seed, i, size) for i in range(n)]
        return [self._sample(seed, i, size) for i in range(n)]

    def _grid_sample(self, seed: int, i: int, size: int) -> Sample:
        """The same puzzle as the cell form's question ``i``, asking for the whole grid."""
        rng = random.Random(f"{self.name}:{seed}:{i}:grid{size}")
        attrs = rng.sample(ATTRIBUTES, size)
        values = [rng.sample(attr.values, size) for attr in attrs]
        puzzle = generate(rng, size, size)
        grid = {
            h + 1: {
                attr.key: values[a][puzzle.solution[a].index(h)] for a, attr in enumerate(attrs)
            }
            for h in range(size)
        }
        lines = _prompt(puzzle, attrs, values, 0, 0, 1).splitlines()[:-2]  # no one-cell ask
        lines.append(grid_instruction(size, [a.key for a in attrs]))
        # ~5 tokens per cell plus the JSON punctuation of each house.
        needed = size * (5 * size + 4) + 8
        return Sample(
            id=f"zb-{seed}-{i}-g{size}-grid",
            task=self.name,
            prompt="\n".join(lines),
            target=grid_target(grid),
            kind=AnswerKind.EXACT,
            meta={
                "grid": size, "scoring": "grid", "question": i, "n_clues": len(puzzle.clues),
                "attributes": ",".join(a.key for a in attrs), "answer_tokens_needed": needed,
            },
        )  # fmt: skip

    def _sample(self, seed: int, i: int, size: int) -> Sample:
        rng = random.Random(f"{self.name}:{seed}:{i}:grid{size}")
        attrs = rng.sample(ATTRIBUTES, size)
        values = [rng.sample(attr.values, size) for attr in attrs]
        puzzle = generate(rng, size, size)
        a, v = rng.randrange(size), rng.randrange(size)
        b = rng.choice([x for x in range(size) if x != a])
        house = puzzle.solution[a][v]
        answer = values[b][puzzle.solution[b].index(house)]
        prompt = _prompt(puzzle, attrs, values, a, v, b)
        return Sample(
            id=f"zb-{seed}-{i}-g{size}",
            task=self.name,
            prompt=prompt,
            target=answer,
            kind=AnswerKind.EXACT,
            meta={
                "grid": size,
                "scoring": "cell",
                "question": i,
                "n_clues": len(puzzle.clues),
                "asked_attribute": attrs[b].key,
                "options": ",".join(values[b]),
            },
        )

    def extract(self, sample: Sample, text: str) -> str | None:
        """The parsed answer, reduced to the option it names when it names exactly one.

        "the coffee", "Coffee." and "coffee" are one answer: votes and pool estimators
        must count them as one class, as the score already does. In the grid form: the
        last JSON grid of the response, normalised (see ``zebra_grid``).
        """
        if sample.meta.get("scoring") == "grid":
            return grid_answer(text, _labels(sample))
        answer = super().extract(sample, text)
        if answer is None:
            return None
        named = _named_options(sample, answer)
        return named[0] if len(named) == 1 else answer

    def score(self, sample: Sample, answer: str | None) -> float | None:
        """1 if the answer names the target and no other value of the asked attribute (grid
        form: 1 if every cell of the grid is right)."""
        if sample.meta.get("scoring") == "grid":
            return score_grid(answer, sample.target)
        if answer is None:
            return 0.0
        named = _named_options(sample, answer)
        if named:
            return 1.0 if named == [sample.target] else 0.0
        return extract.score_answer(answer, sample.target, sample.kind)


def _labels(sample: Sample) -> dict[str, str]:
    """Accepted attribute names (key or label, lower-case) → key, for the grid's attributes."""
    keys = str(sample.meta.get("attributes", "")).split(",")
    out = {}
    for attr in ATTRIBUTES:
        if attr.key in keys:
            out[attr.key] = attr.key
            out[attr.label.lower()] = attr.key
    return out


def _named_options(sample: Sample, answer: str) -> list[str]:
    """The values of the asked attribute that ``answer`` names (as whole words)."""
    options = str(sample.meta.get("options", "")).split(",")
    text = extract.normalise(answer)
    return [o for o in options if o and re.search(rf"\b{re.escape(o.lower())}\b", text)]


def _prompt(
    puzzle: Puzzle, attrs: list[Attribute], values: list[list[str]], a: int, v: int, b: int
) -> str:
    n = puzzle.n_houses
    lines = [
        f"There are {n} houses in a row, numbered 1 to {n} from left to right. Each house "
        "has one resident. Every resident has exactly one value of each attribute below, "
        "and no two residents share a value.",
    ]
    lines += [
        f"- {_cap(attr.label)}: {', '.join(sorted(vals))}"
        for attr, vals in zip(attrs, values, strict=True)
    ]
    lines.append("Clues:")
    lines += [f"{k + 1}. {render_clue(c, attrs, values)}" for k, c in enumerate(puzzle.clues)]
    who = attrs[a].describe(values[a][v])
    lines.append(f"Question: what is the {attrs[b].label} of {who}?")
    lines.append(word_instruction(example="purple" if attrs[b].key != "colour" else "pink"))
    return "\n".join(lines)
