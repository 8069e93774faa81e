"""misleading_python: the counting question surrounded by irrelevant Python code.

"You have one X and one Y." + k Python snippets that mention the items (loops, classes,
comprehensions, recursion, try/except, decorators...) + "How many different types of
CATEGORY do you have?" The answer is always 2. The code looks relevant — it computes
totals, weights and counts — but nothing it computes bears on the question (the paper's
"Misleading Python").

Snippet j of question i depends only on (seed, i, j), so lower knob levels are prefixes
of higher ones.
"""

from __future__ import annotations

import random
import re
from string import Template
from typing import Any

from overthink.core import AnswerKind, Sample
from overthink.errors import ConfigError
from overthink.tasks.base import Knob, Task
from overthink.tasks.counting import CountingQuestion, counting_item
from overthink.tasks.formats import number_instruction
from overthink.tasks.registry import register
from overthink.tasks.rubric import AGREES_NUMBER, COUNT, FINISHED, ONE_NUMBER, PRESENT

__all__ = ["SNIPPETS", "MisleadingPython", "snippet"]

# kind -> Template source ($a/$b: item names as strings, $A/$B: CamelCase, $a_id: snake).
SNIPPETS: dict[str, str] = {
    "loop": """\
total = 0
for item in ["$a", "$b"]:
    total += $d
print(total)""",
    "class": """\
class $A:
    def __init__(self, weight=$w):
        self.weight = weight

    def heavier_than(self, other):
        return self.weight > other.weight""",
    "comprehension": """\
prices = {name: round(len(name) * $x / 7, 2) for name in ["$a", "$b"]}
cheap = [n for n, p in prices.items() if p < $d]""",
    "recursion": """\
def split(n):
    if n <= 1:
        return 1
    return split(n // 2) + split(n - n // 2)

print(split($d))""",
    "try_except": """\
try:
    ratio = $w / ($d - $d)
except ZeroDivisionError:
    ratio = $x
print("$a ratio:", ratio)""",
    "decorator": """\
def times_$s(func):
    def wrapper(*args):
        return $s * func(*args)
    return wrapper

@times_$s
def ${a_id}_count():
    return $e""",
    "generator": """\
def shelf(n):
    for i in range(n):
        yield "$b" if i % $s == 0 else "$a"

print(list(shelf($e)))""",
    "lambda_map": """\
grams = list(map(lambda g: g * $x, [$w, $w2]))
print(sum(grams))""",
    "dict_update": """\
stock = {"$a": $d, "$b": $e}
stock["$a"] += $x
print(max(stock, key=stock.get))""",
    "while_loop": """\
n = $w
steps = 0
while n > 1:
    n //= 2
    steps += 1
print(steps)""",
    "sorting": """\
items = sorted(["$b", "$a"], key=len, reverse=$flag)
print(items[0], len(items[-1]))""",
    "fstring": """\
for i, name in enumerate(["$a", "$b"], start=$d):
    print(f"{i:03d}-{name.upper()}")""",
}


def _ident(name: str) -> str:
    return re.sub(r"\W+", "_", name.lower()).strip("_")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in _ident(name).split("_"))


def snippet(kind: str, q: CountingQuestion, rng: random.Random) -> str:
    """One fenced Python snippet of ``kind`` about the question's items."""
    fields: dict[str, Any] = {
        "a": q.a, "b": q.b, "A": _camel(q.a), "B": _camel(q.b), "a_id": _ident(q.a),
        "d": rng.randint(3, 40), "e": rng.randint(3, 12), "w": rng.randint(50, 900),
        "w2": rng.randint(50, 900), "x": rng.randint(2, 9), "s": rng.randint(2, 4),
        "flag": rng.choice(["True", "False"]),
    }  # fmt: skip
    code = Template(SNIPPETS[kind]).substitute(fields)
    return f"```python\n{code}\n```"


@register
class MisleadingPython(Task):
    """Count two items next to irrelevant Python snippets; the answer is always 2."""

    name = "misleading_python"
    rubric = (PRESENT, ONE_NUMBER, COUNT, FINISHED, AGREES_NUMBER)
    description = "Count two items next to irrelevant Python code snippets (answer: 2)."
    knobs = (Knob("distractors", (0, 1, 3, 5), "number of Python snippets", minimum=0),)
    answer_kind = AnswerKind.NUMERIC

    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        """``n`` questions with ``distractors`` code snippets each."""
        k = self.resolve_levels(levels)["distractors"]
        if n < 0:
            raise ConfigError("n must be >= 0")
        out = []
        for i in range(n):
            q, slots = counting_item(self.name, seed, i, list(SNIPPETS), k)
            blocks = [snippet(s.kind, q, s.rng) for s in slots]
            parts = [q.premise]
            if blocks:
                lead = "this Python snippet" if k == 1 else "these Python snippets"
                parts.append(f"Your friend wrote {lead} about them:")
                parts.extend(blocks)
            parts.append(q.question)
            parts.append(number_instruction())
            out.append(
                Sample(
                    id=f"mp-{seed}-{i}-d{k}",
                    task=self.name,
                    prompt="\n".join(parts),
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
