"""misleading_math: count two items while ignoring distracting sentences.

"You have one X and one Y." + k distractor sentences + "How many different types of
CATEGORY do you have?" The answer is always 2; distractors make the question look harder
(probabilities, prices, weights...) without changing it — the paper's "Misleading Math".
"""

from __future__ import annotations

import random
from typing import Any

from overthink.core import AnswerKind, Sample
from overthink.tasks.base import Knob, Task
from overthink.tasks.registry import register

CATEGORIES: dict[str, list[str]] = {
    "fruit": ["an apple", "an orange", "a banana", "a pear", "a mango", "a plum"],
    "pet": ["a cat", "a dog", "a hamster", "a parrot", "a rabbit", "a goldfish"],
    "book": ["a novel", "a cookbook", "a biography", "an atlas", "a dictionary", "a poetry book"],
    "instrument": ["a guitar", "a violin", "a flute", "a drum", "a trumpet", "a piano"],
    "drink": ["a coffee", "a tea", "a lemonade", "a milkshake", "a juice", "a soda"],
}

DISTRACTORS: list[str] = [
    "There is a {p}% chance that the {a} was bought on a Tuesday.",
    "The {a} cost ${d} and the {b} cost ${e}.",
    "The {a} weighs {w} grams, which is {x} grams more than the {b}.",
    "Your friend says there is a {p}% chance that one of them is a different type.",
    "The {b} came from a shop {d} kilometres away.",
    "You bought the {a} {d} days ago and the {b} {e} days ago.",
]

INSTRUCTION = (
    "Give your final answer as a number inside answer tags. "
    "For example, if the answer were 7 you would end with <answer>7</answer>."
)


def _strip_article(item: str) -> str:
    return item.split(" ", 1)[1]


@register
class MisleadingMath(Task):
    """Count two items amid irrelevant numeric distractors; the answer is always 2."""

    name = "misleading_math"
    description = "Count two items amid irrelevant numeric distractors (answer: 2)."
    knobs = (Knob("distractors", (0, 1, 3, 5), "number of distractor sentences"),)

    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        k = int(levels.get("distractors", 0))
        if k < 0:
            raise ValueError("knob 'distractors' must be >= 0")
        out = []
        for i in range(n):
            # Seeded per question (not per call) so question i is the same whatever k is.
            rng = random.Random(f"{self.name}:{seed}:{i}")
            category = rng.choice(sorted(CATEGORIES))
            a, b = rng.sample(CATEGORIES[category], 2)
            na, nb = _strip_article(a), _strip_article(b)
            drng = random.Random(f"{self.name}:{seed}:{i}:distractors")
            sentences = []
            for j in range(k):
                tmpl = DISTRACTORS[(drng.randrange(len(DISTRACTORS)) + j) % len(DISTRACTORS)]
                sentences.append(
                    tmpl.format(
                        a=na, b=nb,
                        p=drng.randint(5, 95), d=drng.randint(2, 40), e=drng.randint(2, 40),
                        w=drng.randint(50, 900), x=drng.randint(1, 49),
                    )
                )  # fmt: skip
            body = " ".join([f"You have {a} and {b}.", *sentences])
            question = f"How many different types of {category} do you have?"
            out.append(
                Sample(
                    id=f"mm-{seed}-{i}-d{k}",
                    task=self.name,
                    prompt=f"{body} {question}\n{INSTRUCTION}",
                    target="2",
                    kind=AnswerKind.NUMERIC,
                    meta={"distractors": k, "category": category, "question": i},
                )
            )
        return out
