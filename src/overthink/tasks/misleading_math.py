"""misleading_math: count two items while ignoring distracting sentences.

"You have one X and one Y." + k distractor sentences + "How many different types of
CATEGORY do you have?" The answer is always 2; distractors make the question look harder
(probabilities, prices, weights...) without changing it — the paper's "Misleading Math".

Distractor sentence j of question i depends only on (seed, i, j), so the k=3 prompt is the
k=5 prompt with its last two distractors removed: knob levels compare like with like.
"""

from __future__ import annotations

import random
from typing import Any

from overthink.core import AnswerKind, Sample
from overthink.errors import ConfigError
from overthink.tasks.base import Knob, Task
from overthink.tasks.counting import CATEGORIES, CountingQuestion, counting_item
from overthink.tasks.formats import number_instruction
from overthink.tasks.registry import register
from overthink.tasks.rubric import AGREES_NUMBER, COUNT, FINISHED, ONE_NUMBER, PRESENT

__all__ = ["CATEGORIES", "DISTRACTORS", "MisleadingMath", "distractor_sentence"]

# kind -> templates. Every template is about the two items (or unrelated people/things)
# and none of them changes how many *types* of item you have.
DISTRACTORS: dict[str, list[str]] = {
    "probability": [
        "There is a {p}% chance that the {a} was bought on a Tuesday.",
        "Your friend says there is a {p}% probability that the {b} is a rare variety.",
        "If you picked one of them at random, there would be a {p}% chance of picking the {a}.",
    ],
    "price": [
        "The {a} cost ${d}.{c:02d} and the {b} cost ${e}.{c2:02d}.",
        "A shop nearby sells the {b} for {x}% less than you paid.",
    ],
    "weight": [
        "The {a} weighs {w} grams, which is {x} grams more than the {b}.",
        "Together, the two weigh {w} grams on a kitchen scale.",
    ],
    "origin": [
        "The {a} came from a shop {d} kilometres away.",
        "The {b} was made in {country}.",
    ],
    "date": [
        "You got the {a} on {month} {day} and the {b} {e} days later.",
        "The {b} has been with you since {year}.",
    ],
    "colour": [
        "The {a} is {colour} and the {b} is {colour2}.",
        "The {b} came in a {colour} bag with {colour2} stripes.",
    ],
    "people": [
        "Your {relative} gave you the {a}, and {name} gave you the {b}.",
        "{name} once said that the {a} reminded them of their childhood.",
    ],
    "material": [
        "The {a} was wrapped in {material} for the journey home.",
        "You keep the {b} in a box made of {material}.",
    ],
    "size": [
        "The {a} is {d} centimetres long and the {b} is {e} centimetres long.",
        "The {b} fits in a box measuring {d} by {e} centimetres.",
    ],
    "age": [
        "You have had the {a} for {d} weeks.",
        "The {b} is {x} months older than the {a}.",
    ],
    "crowd": [
        "In the shop, {d} other customers were looking at the {a}.",
        "Your neighbour has {e} items just like your {b}.",
    ],
    "temperature": [
        "You store the {a} at {t} degrees Celsius.",
        "The room where you keep the {b} is at {t} degrees Celsius.",
    ],
}

_COUNTRIES = ["Portugal", "Japan", "Kenya", "Canada", "Peru", "Norway", "India", "Italy"]
_MONTHS = ["January", "March", "April", "June", "August", "September", "October", "December"]
_COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black"]
_RELATIVES = ["aunt", "uncle", "cousin", "grandmother", "neighbour", "teacher"]
_NAMES = ["Alice", "Bilal", "Chen", "Dolores", "Emeka", "Freya", "Goran", "Hana"]
_MATERIALS = ["paper", "cloth", "plastic", "foil", "cardboard", "wood", "glass", "wool"]


def distractor_sentence(kind: str, variant: int, q: CountingQuestion, rng: random.Random) -> str:
    """One distractor of ``kind`` (template ``variant`` modulo the kind's templates)."""
    templates = DISTRACTORS[kind]
    # Draw every field every time so the rng stream does not depend on the template.
    fields: dict[str, Any] = {
        "a": q.a, "b": q.b,
        "p": rng.randint(5, 95), "d": rng.randint(2, 40), "e": rng.randint(2, 40),
        "c": rng.randint(0, 99), "c2": rng.randint(0, 99),
        "w": rng.randint(50, 900), "x": rng.randint(1, 49), "t": rng.randint(-5, 30),
        "year": rng.randint(1995, 2023), "day": rng.randint(1, 28),
        "country": rng.choice(_COUNTRIES), "month": rng.choice(_MONTHS),
        "colour": rng.choice(_COLOURS), "colour2": rng.choice(_COLOURS),
        "relative": rng.choice(_RELATIVES), "name": rng.choice(_NAMES),
        "material": rng.choice(_MATERIALS),
    }  # fmt: skip
    return templates[variant % len(templates)].format(**fields)


@register
class MisleadingMath(Task):
    """Count two items amid irrelevant numeric distractors; the answer is always 2."""

    name = "misleading_math"
    rubric = (PRESENT, ONE_NUMBER, COUNT, FINISHED, AGREES_NUMBER)
    description = "Count two items amid irrelevant numeric distractors (answer: 2)."
    knobs = (Knob("distractors", (0, 1, 3, 5), "number of distractor sentences", minimum=0),)
    answer_kind = AnswerKind.NUMERIC

    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        """``n`` questions with ``distractors`` distractor sentences each."""
        k = self.resolve_levels(levels)["distractors"]
        if n < 0:
            raise ConfigError("n must be >= 0")
        out = []
        for i in range(n):
            q, slots = counting_item(self.name, seed, i, list(DISTRACTORS), k)
            sentences = [distractor_sentence(s.kind, s.round, q, s.rng) for s in slots]
            body = " ".join([q.premise, *sentences])
            out.append(
                Sample(
                    id=f"mm-{seed}-{i}-d{k}",
                    task=self.name,
                    prompt=f"{body} {q.question}\n{number_instruction()}",
                    target="2",
                    kind=AnswerKind.NUMERIC,
                    meta={
                        "distractors": k,
                        "category": q.category,
                        "question": i,
                        "distractor_kinds": ",".join(s.kind for s in slots),
                    },
                )
            )
        return out
