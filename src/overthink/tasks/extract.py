"""Answer extraction and scoring shared by every task.

Only the text after the thinking counts (a closed ``<think>…</think>`` block, or everything
before a ``</think>`` whose opening was in the prompt), unless nothing follows it. There,
the order of preference: the last complete ``<answer>…</answer>`` tag (the innermost one
when tags are nested); then ``\\boxed{…}``; then an ``<answer>`` tag cut off by the token
limit; then kind-specific fallbacks on the free text (a number after the word "answer",
the last number or number word, an option letter such as ``(B)``). Anything unparseable
yields ``None`` — never an exception.
"""

from __future__ import annotations

import math
import re
import unicodedata

from overthink.core import AnswerKind

__all__ = [
    "LETTERS",
    "NUMERIC_KINDS",
    "answer_key",
    "extract_answer",
    "first_number",
    "format_number",
    "normalise",
    "numbers_equal",
    "parse_number",
    "score_answer",
    "within_tolerance",
]

LETTERS = "ABCDEFGH"
"""Option letters, in order; choice tasks have at most this many options."""
NUMERIC_KINDS = frozenset({AnswerKind.NUMERIC.value, AnswerKind.REGRESSION.value})
"""Answer kinds whose answers compare as numbers (in votes and in scoring)."""

# Innermost tag: the body may not itself contain an opening tag, so with nested tags the
# regex skips the outer opening and matches the inner pair.
_TAG = re.compile(r"<answer>((?:(?!<answer>).)*?)</answer>", re.IGNORECASE | re.DOTALL)
_OPEN_TAG = re.compile(r"<answer>\s*([^<\n]*)\s*$", re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_THINK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)

# A number: optional sign, digits with optional thousands groups, optional decimals with
# either "." or "," (European). Not preceded by a word character, so "Q1"/"x2" are skipped.
_NUMBER = re.compile(r"(?<![\w.,])[-+]?(?:\d{1,3}(?:,\d{3})+(?![\d,])|\d+)(?:[.,]\d+)?")
_AFTER_ANSWER = re.compile(
    r"(?:final answer|answer)\s*(?:is|:|=)?\s*\**\s*((?<![\w.,])[-+]?\d[\d,]*(?:\.\d+)?)",
    re.IGNORECASE,
)
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
# Words that name a count without being numerals. Not "both", "pair" or "couple": they
# describe the two items ("both are pets", "a pair of jeans") far more often than they
# answer "how many", and misleading_math's target is always 2, so they would score the
# classic "one type" mistake as correct.
_COUNT_WORDS = {"none": 0, "single": 1}
_WORD_RE = re.compile(
    r"\b(?:(?P<tens>" + "|".join(_TENS) + r")(?:[- ](?P<unit>" + "|".join(_UNITS) + r"))?"
    r"|(?P<word>" + "|".join([*_TEENS, *_UNITS, *_COUNT_WORDS]) + r"))\b",
    re.IGNORECASE,
)

# "the answer is X", "Final answer: X": the last one is the committed answer (a response
# may revise itself: "the answer is 3 ... so the final answer is 2").
_ANSWER_LEAD = re.compile(r"\banswer\s*(?:is\b|:|=)\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?;](?:\s|$)|\n")

_LETTER_ALONE = re.compile(r"^\(?([A-Ha-h])\)?[.:]?$")
_LETTER_LEAD = re.compile(r"^[(\[]?([A-H])[)\].:]?(?:\s|$)")
_LETTER_NAMED = re.compile(
    # Case-insensitive keyword, case-sensitive letter: "the answer is a cat" names no option.
    r"(?:option|choice|answer(?:\s+is)?|answer:)\s*:?\s*[(\[*]*((?-i:[A-H]))\b",
    re.IGNORECASE,
)
_LETTER_PAREN = re.compile(r"\(([A-H])\)")
_LETTER_PUNCT = re.compile(r"(?:^|[\s*])([A-H])[).:](?:\s|$)")

# Minus signs to "-"; the Arabic decimal (U+066B) and thousands (U+066C) separators to
# "." and ",", so "١٢٫٥" reads as 12.5.
_MINUS = str.maketrans(
    {
        "\u2212": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\ufe63": "-",
        "\u066b": ".", "\u066c": ",",
    }
)  # fmt: skip


def _to_ascii_digits(text: str) -> str:
    """Map unicode digits (Arabic-Indic, Devanagari, full-width...), minus signs and the
    Arabic decimal/thousands separators to ASCII."""
    out = []
    for ch in text:
        if ch.isdigit() and not ch.isascii():
            try:
                out.append(str(unicodedata.digit(ch)))
                continue
            except (TypeError, ValueError):
                pass
        out.append(ch)
    return "".join(out).translate(_MINUS)


def normalise(text: str) -> str:
    """Lower-case, strip punctuation/whitespace at the ends, collapse inner whitespace."""
    text = unicodedata.normalize("NFKC", _to_ascii_digits(text)).strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .,:;!?\"'`*()[]")


def _number_value(token: str) -> float:
    """Value of a token matched by ``_NUMBER``: commas are thousands separators when
    grouped by three, otherwise a decimal comma."""
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", token):
        return float(token.replace(",", ""))
    return float(token.replace(",", "."))


def _word_values(text: str) -> list[float]:
    values = []
    for m in _WORD_RE.finditer(text):
        if m.group("tens"):
            unit = m.group("unit")
            values.append(
                float(_TENS[m.group("tens").lower()] + (_UNITS[unit.lower()] if unit else 0))
            )
        else:
            word = m.group("word").lower()
            values.append(float({**_UNITS, **_TEENS, **_COUNT_WORDS}[word]))
    return values


def parse_number(text: str) -> float | None:
    """The last number in ``text`` (digits, else a number word), or None."""
    text = _to_ascii_digits(unicodedata.normalize("NFKC", text))
    nums = _NUMBER.findall(text)
    if nums:
        return _number_value(nums[-1])
    words = _word_values(text)
    return words[-1] if words else None


def answer_key(answer: str | None, kind: str) -> str | None:
    """The vote class of a parsed answer; None is no answer, which does not vote.

    The one rule for every vote: the live strategies and verifiers (``strategies``) and the
    analysis's pool estimators (``analysis.pools.canonical_answers``) both call it, so an
    estimated majority is the majority the strategy would pick. Numeric kinds compare as
    numbers (``2``, ``2.0``, `` 2 `` and ``two`` are one class; a number that does not parse
    or is not finite falls back to text); everything else compares as normalised text
    (``Boxing.`` = `` boxing`` = ``BOXING``). An answer that is blank once normalised
    (``""``, ``"  "``, ``"."``) carries no answer, so like ``None`` it does not vote: a pool
    of mostly empty outputs must not elect "nothing" over the one real answer. Votes are on
    *answers*, never on correctness.
    """
    if answer is None:
        return None
    if str(kind) in NUMERIC_KINDS:
        value = parse_number(answer)
        if value is not None and math.isfinite(value):
            return repr(float(value))
    text = normalise(answer)
    return text or None


def first_number(text: str) -> float | None:
    """The first number in ``text`` (digits, else a number word), or None.

    Used inside an answer tag, where the first number is the answer and later ones are
    units or scales (``7.5/10``, ``2 types out of 3 items``).
    """
    text = _to_ascii_digits(unicodedata.normalize("NFKC", text))
    nums = _NUMBER.findall(text)
    if nums:
        return _number_value(nums[0])
    words = _word_values(text)
    return words[0] if words else None


def format_number(value: float) -> str:
    """A parsed number as answer text: ``3`` for 3.0, ``repr`` otherwise (``2.5``, ``inf``)."""
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(value)


def _outside_thinking(text: str) -> str:
    """``text`` without its closed thinking: ``<think>…</think>`` blocks, and everything up
    to a ``</think>`` whose opening tag was in the prompt (chat templates that open the
    thinking themselves). The whole text when nothing is left."""
    outside = _THINK.sub(" ", text)
    closes = list(_THINK_CLOSE.finditer(outside))
    if closes:
        outside = outside[closes[-1].end() :]
    return outside if outside.strip() else text


def _final_segment(text: str) -> tuple[str | None, str]:
    """The committed answer segment (tag, boxed or cut-off tag) if any, and the free text.

    Both are looked for after the thinking (see ``_outside_thinking``), so an answer tag or
    a number inside the reasoning is not mistaken for the final answer; only when nothing
    follows the thinking is the thinking itself searched.
    """
    scope = _outside_thinking(text)
    tags = _TAG.findall(scope)
    if tags:
        return tags[-1], scope
    boxed = _BOXED.findall(scope)
    if boxed:
        return boxed[-1], scope
    opened = _OPEN_TAG.findall(scope)
    if opened:
        return opened[-1], scope
    return None, scope


def _numeric(text: str) -> str | None:
    text = _to_ascii_digits(unicodedata.normalize("NFKC", text))
    segment, free = _final_segment(text)
    if segment is not None:
        val = first_number(segment)
        return None if val is None else format_number(val)
    after = _AFTER_ANSWER.findall(free)
    if after:
        return format_number(_number_value(after[-1].rstrip(",")))
    val = parse_number(free)
    return None if val is None else format_number(val)


def _letter_from_choice_text(text: str, choices: list[str], letters: str) -> str | None:
    """Map an option's text back to its letter: exact match, else a unique containment."""
    low = normalise(text)
    if not low:
        return None
    norm = [normalise(c) for c in choices]
    for i, c in enumerate(norm):
        if c and c == low:
            return letters[i]
    hits = [i for i, c in enumerate(norm) if c and re.search(rf"(?<!\w){re.escape(c)}(?!\w)", low)]
    return letters[hits[0]] if len(hits) == 1 else None


def _letter_in_segment(segment: str, letters: str, choices: list[str] | None) -> str | None:
    """The option chosen inside an answer tag: a lone letter, a leading ``(B)``/``B.``,
    ``option B``, or the text of one option."""
    seg = segment.strip().strip("*").strip()
    m = _LETTER_ALONE.match(seg)
    if m and m.group(1).upper() in letters:
        return m.group(1).upper()
    m = _LETTER_LEAD.match(seg)
    if m and m.group(1) in letters:
        return m.group(1)
    for pattern in (_LETTER_NAMED, _LETTER_PAREN):
        found = [str(x).upper() for x in pattern.findall(seg) if str(x).upper() in letters]
        if found:
            return found[0]
    if choices:
        return _letter_from_choice_text(seg, choices, letters)
    return None


def _choice(text: str, choices: list[str] | None) -> str | None:
    letters = LETTERS[: len(choices)] if choices else LETTERS
    segment, free = _final_segment(text)
    if segment is not None:
        return _letter_in_segment(segment, letters, choices)
    # Free text: only explicit markers, because a bare capital "A" is usually an article.
    for pattern in (_LETTER_NAMED, _LETTER_PAREN, _LETTER_PUNCT):
        found = [str(x).upper() for x in pattern.findall(free) if str(x).upper() in letters]
        if found:
            return found[-1]
    lines = [ln for ln in free.strip().splitlines() if ln.strip()]
    if lines:
        last = _letter_in_segment(lines[-1], letters, choices)
        if last is not None:
            return last
    if choices:
        return _letter_from_choice_text(free, choices, letters)
    return None


def extract_answer(text: str, kind: AnswerKind, choices: list[str] | None = None) -> str | None:
    """Parse an answer of the given kind from a model response; None if unparseable."""
    if not text or not text.strip():
        return None
    if kind in (AnswerKind.NUMERIC, AnswerKind.REGRESSION):
        return _numeric(text)
    if kind in (AnswerKind.CHOICE, AnswerKind.BEHAVIOUR):
        return _choice(text, choices)
    segment, free = _final_segment(text)
    if segment is not None:
        return normalise(segment) or None
    phrase = _last_answer_phrase(free)
    if phrase:
        return phrase
    lines = [ln for ln in free.strip().splitlines() if ln.strip()]
    return (normalise(lines[-1]) or None) if lines else None


def _last_answer_phrase(text: str) -> str | None:
    """What follows the last "answer is" / "answer:" up to the end of its sentence."""
    leads = list(_ANSWER_LEAD.finditer(text))
    if not leads:
        return None
    rest = text[leads[-1].end() :]
    end = _SENTENCE_END.search(rest)
    return normalise(rest[: end.start()] if end else rest) or None


def numbers_equal(a: float, b: float, rel_tol: float = 1e-9, abs_tol: float = 1e-9) -> bool:
    """Equality up to floating-point noise (``2`` equals ``2.0``)."""
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def within_tolerance(answer: str | None, target: str, tolerance: float) -> bool | None:
    """Whether a numeric answer is within ``tolerance`` of the target (None: unparseable).

    Regression tasks score absolute error; this gives the "hit rate within ±tol" view of
    the same records.
    """
    if answer is None:
        return None
    got, want = parse_number(answer), parse_number(target)
    if got is None or want is None:
        return None
    return abs(got - want) <= tolerance + 1e-12


def score_answer(answer: str | None, target: str, kind: AnswerKind) -> float | None:
    """1/0 accuracy, or absolute error for regression (None when unparseable)."""
    if kind is AnswerKind.REGRESSION:
        if answer is None:
            return None
        got, want = parse_number(answer), parse_number(target)
        if got is None or want is None:
            return None
        return abs(got - want)
    if answer is None:
        return 0.0
    if kind is AnswerKind.NUMERIC:
        got, want = parse_number(answer), parse_number(target)
        return 1.0 if got is not None and want is not None and numbers_equal(got, want) else 0.0
    return 1.0 if normalise(answer) == normalise(target) else 0.0
