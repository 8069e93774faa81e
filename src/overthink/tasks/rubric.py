"""Rubric checks: rule-based tests of one record, declared by tasks for the ``rubric`` verifier.

Each :class:`Check` looks at one record and answers True (pass), False (fail) or None
(does not apply — e.g. a reasoning check on a record without reasoning). A task owns its
rubric (``Task.rubric``); tasks without one get the default rubric of their answer kind
(:data:`KIND_RUBRICS`). The checks live with the tasks (not with the verifier) so that a
task can declare its rubric without importing the strategies layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from overthink.core import AnswerKind, Record
from overthink.tasks.extract import LETTERS, normalise, parse_number

__all__ = [
    "AGREES_LETTER",
    "AGREES_NUMBER",
    "AGREES_TEXT",
    "COUNT",
    "FINISHED",
    "KIND_RUBRICS",
    "LETTER",
    "ONE_NUMBER",
    "ONE_OPTION",
    "PRESENT",
    "TAGGED",
    "Check",
    "answer_present",
    "in_range",
]

_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)?")
_OPTION_LINE = re.compile(r"^\(([A-H])\)\s", re.MULTILINE)
_LETTER_MENTION = re.compile(
    r"\(([A-H])\)|(?:option|choice|answer(?:\s+is)?)\s*:?\s*\(?([A-H])\b", re.IGNORECASE
)
_ANSWER_TAG = re.compile(r"<answer>.*?</answer>", re.IGNORECASE | re.DOTALL)
# The reasoning check looks at the end of the trace, where a conclusion would be.
_TAIL_CHARS = 400


@dataclass(frozen=True)
class Check:
    """One rule: True = pass, False = fail, None = not applicable to this record."""

    name: str
    description: str
    test: Callable[[Record], bool | None]


def answer_present(r: Record) -> bool:
    return r.answer is not None and bool(r.answer.strip()) and not r.empty_answer


def _finished(r: Record) -> bool | None:
    # Without a thinking segment there is nothing to cut.
    if r.budget_mode == "none":
        return None
    return not r.truncated_in_reasoning


def _number(r: Record) -> float | None:
    return parse_number(r.answer) if r.answer is not None else None


def _one_number(r: Record) -> bool | None:
    """The response states one value, not a hedge such as "2 or 3"."""
    if r.answer is None:
        return None
    values = {float(m.replace(",", ".")) for m in _NUMBER.findall(r.response)}
    return len(values) <= 1 and _number(r) is not None


def _count(r: Record) -> bool | None:
    value = _number(r)
    if value is None:
        return None if r.answer is None else False
    return value >= 0 and float(value).is_integer()


def _in_range(lo: float, hi: float) -> Callable[[Record], bool | None]:
    def test(r: Record) -> bool | None:
        value = _number(r)
        if value is None:
            return None if r.answer is None else False
        return lo <= value <= hi

    return test


def _options(r: Record) -> str:
    """The option letters shown in the prompt (``(A) ...`` lines)."""
    found = "".join(dict.fromkeys(_OPTION_LINE.findall(r.prompt)))
    return found or LETTERS


def _valid_letter(r: Record) -> bool | None:
    if r.answer is None:
        return None
    letter = r.answer.strip().upper()
    return len(letter) == 1 and letter in _options(r)


def _tagged(r: Record) -> bool | None:
    """The prompt asked for answer tags and the response used them."""
    if "answer tags" not in r.prompt.lower():
        return None
    return bool(_ANSWER_TAG.search(r.response))


def _agrees_number(r: Record) -> bool | None:
    """The last number in the reasoning is the answer (the conclusion was carried over)."""
    value = _number(r)
    if not r.reasoning.strip() or value is None:
        return None
    last = parse_number(r.reasoning[-_TAIL_CHARS:])
    if last is None:
        return None
    return bool(abs(last - value) <= 1e-9 * max(1.0, abs(value)))


def _agrees_letter(r: Record) -> bool | None:
    """The last option the reasoning names is the answer."""
    if not r.reasoning.strip() or r.answer is None:
        return None
    mentions = [a or b for a, b in _LETTER_MENTION.findall(r.reasoning[-_TAIL_CHARS:])]
    mentions = [m.upper() for m in mentions if m.upper() in _options(r)]
    if not mentions:
        return None
    return bool(mentions[-1] == r.answer.strip().upper())


def _agrees_text(r: Record) -> bool | None:
    """The answer appears near the end of the reasoning."""
    if not r.reasoning.strip() or r.answer is None:
        return None
    answer = normalise(r.answer)
    return bool(answer) and answer in normalise(r.reasoning[-_TAIL_CHARS:])


def _one_option(r: Record) -> bool | None:
    """A zebra answer names exactly one value of the asked attribute."""
    options = [o for o in str(r.meta.get("options", "")).split(",") if o]
    if r.answer is None or not options:
        return None
    text = normalise(r.answer)
    named = [o for o in options if re.search(rf"\b{re.escape(o.lower())}\b", text)]
    return len(named) == 1


PRESENT = Check("answer_present", "a non-empty answer was parsed", answer_present)
FINISHED = Check("finished_thinking", "the thinking was not cut off by the cap", _finished)
ONE_NUMBER = Check("one_number", "the response states a single number", _one_number)
COUNT = Check("count", "the answer is a non-negative integer", _count)
LETTER = Check("valid_option", "the answer is one of the prompt's option letters", _valid_letter)
TAGGED = Check("tagged", "answer tags were used when the prompt asked for them", _tagged)
AGREES_NUMBER = Check(
    "reasoning_agrees", "the reasoning's last number is the answer", _agrees_number
)
AGREES_LETTER = Check(
    "reasoning_agrees", "the reasoning's last named option is the answer", _agrees_letter
)
AGREES_TEXT = Check(
    "reasoning_agrees", "the answer appears at the end of the reasoning", _agrees_text
)
ONE_OPTION = Check("one_option", "the answer names exactly one allowed value", _one_option)


def in_range(lo: float, hi: float) -> Check:
    """A regression/numeric answer within the task's range of possible values."""
    return Check("in_range", f"the answer is within [{lo:g}, {hi:g}]", _in_range(lo, hi))


KIND_RUBRICS: dict[str, tuple[Check, ...]] = {
    AnswerKind.NUMERIC.value: (PRESENT, ONE_NUMBER, FINISHED, AGREES_NUMBER),
    AnswerKind.REGRESSION.value: (PRESENT, ONE_NUMBER, FINISHED, AGREES_NUMBER),
    AnswerKind.CHOICE.value: (PRESENT, LETTER, TAGGED, FINISHED, AGREES_LETTER),
    AnswerKind.BEHAVIOUR.value: (PRESENT, LETTER, TAGGED, FINISHED, AGREES_LETTER),
    AnswerKind.EXACT.value: (PRESENT, TAGGED, FINISHED, AGREES_TEXT),
}
"""Default rubric per answer kind."""
