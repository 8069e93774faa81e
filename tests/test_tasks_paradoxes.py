"""famous_paradoxes: framing levels change only the framing, never the question."""

from __future__ import annotations

from overthink.core import AnswerKind
from overthink.tasks import get_task
from overthink.tasks.famous_paradoxes import FRAMINGS, PARADOXES


def test_required_paradoxes_present() -> None:
    assert {"birthday", "monty_hall", "zeno", "st_petersburg"} <= set(PARADOXES)
    assert len(PARADOXES) >= 8


def test_framing_monotonic_same_question_same_target() -> None:
    task = get_task("famous_paradoxes")
    n = 2 * len(PARADOXES)
    by = {f: task.samples(n, 5, framing=f) for f in FRAMINGS}
    for i in range(n):
        none, light, heavy = (by[f][i] for f in FRAMINGS)
        assert len(none.prompt) < len(light.prompt) < len(heavy.prompt)
        assert none.target == light.target == heavy.target
        assert none.choices == light.choices == heavy.choices
        assert none.meta["paradox"] == light.meta["paradox"] == heavy.meta["paradox"]
        # The plain prompt is contained in the framed ones: only framing was added.
        assert light.prompt.endswith(none.prompt)
        assert heavy.prompt.endswith(none.prompt)
        title = PARADOXES[none.meta["paradox"]].title
        assert title not in none.prompt
        assert title in light.prompt


def test_options_include_correct_and_famous_answer() -> None:
    task = get_task("famous_paradoxes")
    samples = task.samples(len(PARADOXES), 0, framing="none")
    assert {s.meta["paradox"] for s in samples} == set(PARADOXES)  # one cycle covers all
    for s in samples:
        assert s.kind is AnswerKind.CHOICE
        assert s.choices is not None and len(s.choices) == 3
        assert s.meta["famous_letter"] != s.target
        assert f"(A) {s.choices[0]}" in s.prompt
        # Choosing the famous answer is scored wrong.
        assert task.score(s, s.meta["famous_letter"]) == 0.0
        assert task.score(s, s.target) == 1.0


def test_correct_letter_is_not_always_the_same() -> None:
    targets = {s.target for s in get_task("famous_paradoxes").samples(40, 0, framing="none")}
    assert targets == {"A", "B", "C"}
