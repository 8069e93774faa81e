"""misleading_math and misleading_python: variety, knob monotonicity, like-for-like levels."""

from __future__ import annotations

import ast
import itertools
import random
import re

import pytest

from overthink.tasks import get_task
from overthink.tasks.counting import CATEGORIES, counting_question
from overthink.tasks.misleading_math import DISTRACTORS
from overthink.tasks.misleading_python import SNIPPETS, snippet

MISLEADING = ["misleading_math", "misleading_python"]
_QUESTION = re.compile(r"How many different types of [\w ]+\?")


def test_variety_of_categories_and_distractor_kinds() -> None:
    assert len(CATEGORIES) >= 10
    assert all(len(items) >= 4 for _, items in CATEGORIES.values())
    assert len(DISTRACTORS) >= 10
    assert len(SNIPPETS) >= 10
    needed = {"probability", "price", "weight", "origin", "date", "colour", "people", "material"}
    assert needed <= set(DISTRACTORS)
    needed_py = {"loop", "class", "comprehension", "recursion", "try_except", "decorator"}
    assert needed_py <= set(SNIPPETS)


@pytest.mark.parametrize("name", MISLEADING)
def test_more_distractors_longer_prompt_same_question(name: str) -> None:
    task = get_task(name)
    levels = [0, 1, 3, 5, 12, 30]
    by_level = {k: task.samples(20, 3, distractors=k) for k in levels}
    for i in range(20):
        prompts = [by_level[k][i].prompt for k in levels]
        assert all(len(a) < len(b) for a, b in itertools.pairwise(prompts))
        assert {by_level[k][i].target for k in levels} == {"2"}
        assert len({by_level[k][i].meta["category"] for k in levels}) == 1
        # Same question: the opening and closing sentences do not depend on the knob.
        firsts = {p.split(".")[0] for p in prompts}
        questions = {tuple(_QUESTION.findall(p)) for p in prompts}
        assert len(firsts) == 1 and len(questions) == 1


def test_lower_levels_are_prefixes_of_higher_ones() -> None:
    task = get_task("misleading_math")
    three = task.samples(5, 0, distractors=3)
    five = task.samples(5, 0, distractors=5)
    for a, b in zip(three, five, strict=True):
        body_a = a.prompt.split(" How many")[0]
        assert b.prompt.startswith(body_a)
        assert b.meta["distractor_kinds"].startswith(a.meta["distractor_kinds"])


def test_distractor_kinds_do_not_repeat_before_all_are_used() -> None:
    task = get_task("misleading_math")
    for s in task.samples(10, 1, distractors=len(DISTRACTORS)):
        kinds = s.meta["distractor_kinds"].split(",")
        assert sorted(kinds) == sorted(DISTRACTORS)


def test_all_categories_appear() -> None:
    seen = {s.meta["category"] for s in get_task("misleading_math").samples(200, 0, distractors=0)}
    assert seen == set(CATEGORIES)


@pytest.mark.parametrize("kind", sorted(SNIPPETS))
def test_every_snippet_is_valid_python(kind: str) -> None:
    for i in range(5):
        q = counting_question(random.Random(i))
        code = snippet(kind, q, random.Random(f"{kind}{i}"))
        assert code.startswith("```python\n") and code.endswith("\n```")
        ast.parse(code.removeprefix("```python\n").removesuffix("\n```"))


def test_python_snippets_mention_the_items() -> None:
    for s in get_task("misleading_python").samples(10, 0, distractors=3):
        item = s.prompt.split(" and ")[0].removeprefix("You have ").split(" ", 1)[1]
        code = s.prompt.split("```python", 1)[1]
        assert item.split()[0].lower() in code.lower()
        assert s.prompt.count("```python") == 3
