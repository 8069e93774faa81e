"""Answer extraction and scoring edge cases (shared by every task)."""

from __future__ import annotations

import pytest

from overthink.core import AnswerKind
from overthink.tasks.extract import (
    extract_answer,
    first_number,
    parse_number,
    score_answer,
    within_tolerance,
)

NUM = AnswerKind.NUMERIC
REG = AnswerKind.REGRESSION
CHOICE = AnswerKind.CHOICE
EXACT = AnswerKind.EXACT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer>2</answer>", "2"),
        ("First <answer>3</answer>, on reflection <answer>2</answer>", "2"),  # last wins
        ("<answer>I think <answer>2</answer> really</answer>", "2"),  # nested: innermost
        ("<answer>٢</answer>", "2"),  # Arabic-Indic digit
        ("<answer>２</answer>", "2"),  # full-width digit
        ("<answer>२३</answer>", "23"),  # Devanagari digits
        ("<answer>−3</answer>", "-3"),  # unicode minus sign
        ("<answer>two</answer>", "2"),
        ("<answer>Twenty-one</answer>", "21"),
        ("<answer>2 types</answer>", "2"),
        ("<answer>1,234</answer>", "1234"),  # thousands separator
        ("<answer>3,5</answer>", "3.5"),  # decimal comma
        ("So the answer is 2.", "2"),
        ("I had 3, then 5, and finally 2", "2"),
        ("The final answer: 4 apples (not 7)", "4"),
        ("Thinking... <answer>4", "4"),  # cut off by the token limit
        ("so \\boxed{12} it is", "12"),
        ("<think>I count 5 and 7</think>\nBoth, so two.", "2"),  # reasoning numbers ignored
        # Tags inside the thinking do not count: the answer after </think> wins.
        ("<think>so <answer>3</answer></think> The answer is 2", "2"),
        ("<think>so <answer>3</answer></think> <answer>2</answer>", "2"),
        ("<think>try \\boxed{3}</think>\nFinal answer: 2", "2"),
        ("so <answer>3</answer>, hmm.</think>\nThe answer is 2", "2"),  # template opened it
        ("<think>I get <answer>3</answer></think>", "3"),  # nothing after: the thinking
        ("<answer>١٢٫٥</answer>", "12.5"),  # Arabic decimal separator
        ("<answer>١٬٢٣٤</answer>", "1234"),  # Arabic thousands separator
        ("It costs ٣٫٧٥ in total", "3.75"),
        ("<ANSWER> 2 </ANSWER>", "2"),
        ("Answer: Q1 is unclear, 2", "2"),  # "Q1" is not a number
        # Words describing the two items are not a count: the "one type" mistake stays 1.
        ("Final answer: There is a single type: both are pets.", "1"),
        ("Final answer: one type. They are both fruit.", "1"),
    ],
)
def test_numeric_extraction(text: str, expected: str) -> None:
    assert extract_answer(text, NUM) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t",
        "<answer></answer>",
        "<answer>no idea</answer>",
        "I cannot tell.",
        "You have a pair of jeans and a hat.",
        "They are both drinks.",
    ],
)
def test_unparseable_numeric_is_none(text: str) -> None:
    assert extract_answer(text, NUM) is None


@pytest.mark.parametrize("kind", list(AnswerKind))
def test_empty_output_is_none_for_every_kind(kind: AnswerKind) -> None:
    assert extract_answer("", kind, ["x", "y"]) is None
    assert extract_answer(" \n ", kind, ["x", "y"]) is None


def test_regression_takes_first_number_in_tag() -> None:
    assert extract_answer("<answer>7.5/10</answer>", REG) == "7.5"
    assert extract_answer("<answer>about 6.25 out of 10</answer>", REG) == "6.25"


OPTS = ["Stick with door 2", "Switch doors", "It makes no difference"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer>B</answer>", "B"),
        ("<answer>b</answer>", "B"),
        ("<answer>(C)</answer>", "C"),
        ("<answer>B) Switch doors</answer>", "B"),
        ("<answer>Option C</answer>", "C"),
        ("<answer>Stick with door 2</answer>", "A"),  # option text maps to its letter
        ("<answer>A</answer> no wait <answer>C</answer>", "C"),
        ("<answer>x <answer>B</answer></answer>", "B"),
        ("The answer is (B).", "B"),
        ("I would say the answer is C", "C"),
        ("Reasoning...\nB", "B"),
        ("I'd pick A cat", None),  # a bare article is not an option
        ("the answer is a cat", None),
        ("<answer>D</answer>", None),  # not an option of a 3-choice question
        ("<answer></answer>", None),
        ("<think><answer>A</answer></think>\n<answer>C</answer>", "C"),
        ("<think>maybe <answer>A</answer></think>\nThe answer is (B).", "B"),
    ],
)
def test_choice_extraction(text: str, expected: str | None) -> None:
    assert extract_answer(text, CHOICE, OPTS) == expected


def test_exact_extraction_normalises() -> None:
    assert extract_answer("<answer> The Norwegian. </answer>", EXACT) == "the norwegian"
    assert extract_answer("blah\nNorwegian\n", EXACT) == "norwegian"
    assert extract_answer("<answer>  </answer>", EXACT) is None
    assert extract_answer("<think><answer>Swede</answer></think>\nNorwegian", EXACT) == "norwegian"


def test_parse_number_helpers() -> None:
    assert parse_number("between 3 and 4") == 4
    assert first_number("between 3 and 4") == 3
    assert parse_number("none of them") == 0
    assert parse_number("nothing here") is None


def test_scores() -> None:
    assert score_answer("2.0", "2", NUM) == 1.0
    assert score_answer("3", "2", NUM) == 0.0
    assert score_answer(None, "2", NUM) == 0.0  # unparseable accuracy answer scores 0
    assert score_answer("6.5", "7.25", REG) == pytest.approx(0.75)
    assert score_answer(None, "7", REG) is None  # excluded (and counted) in analysis
    assert score_answer("B", "B", CHOICE) == 1.0
    assert score_answer("Norwegian", "norwegian", EXACT) == 1.0


def test_within_tolerance() -> None:
    assert within_tolerance("6.5", "7", 0.5) is True
    assert within_tolerance("6.4", "7", 0.5) is False
    assert within_tolerance(None, "7", 0.5) is None
