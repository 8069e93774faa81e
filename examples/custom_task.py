"""A task in your own Python file: no fork, no package, no registration.

Run it with::

    overthink run --task examples/custom_task.py@custom_task -n 1 --samples 4
    overthink tasks show examples/custom_task.py@custom_task

``file.py@name`` finds ``name`` in the file as a module-level object (a Task subclass,
a Task instance or a function returning a Task), or as the Task subclass whose ``name``
is ``name`` (as here). See docs/extending.md.

The task: add up a list of small numbers, with a knob for how many there are; the
answer is checked exactly, and the ``rubric`` verifier uses the checks declared below.
"""

from __future__ import annotations

import random
from typing import Any

from overthink.core import AnswerKind, Sample
from overthink.errors import ConfigError
from overthink.tasks.base import Knob, Task
from overthink.tasks.rubric import AGREES_NUMBER, COUNT, FINISHED, ONE_NUMBER, PRESENT


class CustomTask(Task):
    """Sum a few small numbers; the knob is how many."""

    name = "custom_task"
    description = "Add up a list of small numbers (an example task from a user's file)."
    knobs = (Knob("terms", (2, 4, 8), "how many numbers to add", minimum=1, maximum=50),)
    answer_kind = AnswerKind.NUMERIC
    rubric = (PRESENT, ONE_NUMBER, COUNT, FINISHED, AGREES_NUMBER)

    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        """``n`` sums of ``terms`` numbers each (same seed, same questions)."""
        terms = self.resolve_levels(levels)["terms"]
        if n < 0:
            raise ConfigError("n must be >= 0")
        out = []
        for i in range(n):
            # One generator per question: adding questions never changes earlier ones.
            rng = random.Random(f"{self.name}-{seed}-{i}-{terms}")
            numbers = [rng.randint(1, 9) for _ in range(terms)]
            out.append(
                Sample(
                    id=f"custom-{seed}-{i}-t{terms}",
                    task=self.name,
                    prompt=(
                        f"What is {' + '.join(map(str, numbers))}?\nAnswer with a single number."
                    ),
                    target=str(sum(numbers)),
                    kind=AnswerKind.NUMERIC,
                    meta={"terms": terms, "question": i},
                )
            )
        return out
