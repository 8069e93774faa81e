"""The counting question behind the two "misleading" families.

"You have one X and one Y. How many different types of CATEGORY do you have?" The answer
is always 2; the families differ only in what irrelevant material surrounds it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "CATEGORIES",
    "CountingQuestion",
    "DistractorSlot",
    "counting_item",
    "counting_question",
]

# category key -> (noun used in the question, items with their article)
CATEGORIES: dict[str, tuple[str, list[str]]] = {
    "fruit": ("fruit", ["an apple", "an orange", "a banana", "a pear", "a mango", "a plum"]),
    "pet": ("pet", ["a cat", "a dog", "a hamster", "a parrot", "a rabbit", "a goldfish"]),
    "book": (
        "book",
        ["a novel", "a cookbook", "a biography", "an atlas", "a dictionary", "a poetry book"],
    ),
    "instrument": (
        "musical instrument",
        ["a guitar", "a violin", "a flute", "a drum", "a trumpet", "a piano"],
    ),
    "drink": ("drink", ["a coffee", "a tea", "a lemonade", "a milkshake", "a juice", "a soda"]),
    "vegetable": (
        "vegetable",
        ["a carrot", "a potato", "an onion", "a cucumber", "a tomato", "a leek"],
    ),
    "flower": ("flower", ["a rose", "a tulip", "a daisy", "a lily", "an orchid", "a sunflower"]),
    "vehicle": (
        "vehicle",
        ["a bicycle", "a car", "a scooter", "a motorbike", "a van", "a skateboard"],
    ),
    "tool": ("tool", ["a hammer", "a screwdriver", "a wrench", "a saw", "a drill", "a chisel"]),
    "ball": (
        "ball",
        [
            "a football",
            "a tennis ball",
            "a basketball",
            "a golf ball",
            "a rugby ball",
            "a volleyball",
        ],
    ),
    "clothing": (
        "clothing",
        ["a jacket", "a scarf", "a sweater", "a hat", "a pair of jeans", "a raincoat"],
    ),
    "board_game": (
        "board game",
        [
            "a chess set",
            "a Scrabble set",
            "a Monopoly set",
            "a Go board",
            "a backgammon set",
            "a Cluedo set",
        ],
    ),
}


def _bare(item: str) -> str:
    """``"an apple"`` -> ``"apple"``; ``"a pair of jeans"`` -> ``"pair of jeans"``."""
    return item.split(" ", 1)[1]


@dataclass(frozen=True)
class CountingQuestion:
    """One counting question: two distinct items of one category."""

    category: str
    noun: str
    item_a: str
    """First item with its article (``"an apple"``)."""
    item_b: str

    @property
    def a(self) -> str:
        """First item without its article."""
        return _bare(self.item_a)

    @property
    def b(self) -> str:
        """Second item without its article."""
        return _bare(self.item_b)

    @property
    def premise(self) -> str:
        """The opening sentence: what you have."""
        return f"You have {self.item_a} and {self.item_b}."

    @property
    def question(self) -> str:
        """The question sentence; its answer is always 2."""
        return f"How many different types of {self.noun} do you have?"


def counting_question(rng: random.Random) -> CountingQuestion:
    """Draw a category and two distinct items from it."""
    category = rng.choice(sorted(CATEGORIES))
    noun, items = CATEGORIES[category]
    a, b = rng.sample(items, 2)
    return CountingQuestion(category, noun, a, b)


@dataclass(frozen=True)
class DistractorSlot:
    """The j-th distractor of a question: which kind, which pass over the kinds, its RNG."""

    kind: str
    round: int
    """How many times every kind was used before this slot (picks a template variant)."""
    rng: random.Random


def counting_item(
    task: str, seed: int, index: int, kinds: list[str], k: int
) -> tuple[CountingQuestion, list[DistractorSlot]]:
    """Question ``index`` of a counting task and the plan of its ``k`` distractors.

    Every random choice is seeded per question and per slot (not per call), so question
    ``index`` is the same whatever ``k`` is and adding a distractor never reshuffles the
    ones before it. The kinds are shuffled per question and cycled through before any
    is reused.
    """
    question = counting_question(random.Random(f"{task}:{seed}:{index}"))
    order = sorted(kinds)
    random.Random(f"{task}:{seed}:{index}:kinds").shuffle(order)
    slots = [
        DistractorSlot(
            kind=order[j % len(order)],
            round=j // len(order),
            rng=random.Random(f"{task}:{seed}:{index}:d{j}"),
        )
        for j in range(k)
    ]
    return question, slots
