"""Answer extraction and scoring shared by every task.

Order of preference: the last ``<answer>…</answer>`` tag; then kind-specific fallbacks
(a number after the word "answer", the last number, a number word, an option letter).
Anything unparseable yields ``None`` — never an exception.
"""

from __future__ import annotations

import re
import unicodedata

from overthink.core import AnswerKind

__all__ = ["extract_answer", "normalise", "parse_number", "score_answer"]

_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.IGNORECASE | re.DOTALL)
_OPEN_TAG = re.compile(r"<answer>\s*([^<\n]*)", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_AFTER_ANSWER = re.compile(
    r"(?:final answer|answer)\s*(?:is|:|=)?\s*\**\s*([-+]?\d+(?:[.,]\d+)?)", re.IGNORECASE
)
_WORDS = {
    "zero": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "single": 1, "both": 2, "pair": 2, "couple": 2,
}  # fmt: skip
_WORD_RE = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)
_LETTER = re.compile(r"(?:^|[\s(\[*])([A-H])(?:[)\].:,\s*]|$)")


def _to_ascii_digits(text: str) -> str:
    """Map unicode digits (e.g. Arabic-Indic, full-width) to ASCII."""
    out = []
    for ch in text:
        if ch.isdigit() and not ch.isascii():
            try:
                out.append(str(unicodedata.digit(ch)))
                continue
            except (TypeError, ValueError):
                pass
        out.append(ch)
    return "".join(out)


def normalise(text: str) -> str:
    """Lower-case, strip punctuation/whitespace at the ends, collapse inner whitespace."""
    text = unicodedata.normalize("NFKC", _to_ascii_digits(text)).strip().lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" .,:;!?\"'`*()[]")


def parse_number(text: str) -> float | None:
    """The last number in ``text`` (digits or a number word), or None."""
    text = _to_ascii_digits(text)
    nums = _NUMBER.findall(text)
    if nums:
        return float(nums[-1].replace(",", "."))
    words = _WORD_RE.findall(text)
    if words:
        return float(_WORDS[words[-1].lower()])
    return None


def _fmt_number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _numeric(text: str) -> str | None:
    text = _to_ascii_digits(text)
    tags = _TAG.findall(text)
    if tags:
        val = parse_number(tags[-1])
        return None if val is None else _fmt_number(val)
    after = _AFTER_ANSWER.findall(text)
    if after:
        return _fmt_number(float(after[-1].replace(",", ".")))
    val = parse_number(text)
    return None if val is None else _fmt_number(val)


def _choice(text: str, choices: list[str] | None) -> str | None:
    n = len(choices) if choices else 8
    letters = "ABCDEFGH"[:n]
    tags = _TAG.findall(text)
    candidates = [tags[-1]] if tags else [text]
    for cand in candidates:
        stripped = cand.strip().strip("()[]*. ")
        if len(stripped) == 1 and stripped.upper() in letters:
            return stripped.upper()
        found = [m for m in _LETTER.findall(cand) if m in letters]
        if found:
            return found[-1]
        if choices:
            low = normalise(cand)
            for i, choice in enumerate(choices):
                if normalise(choice) and normalise(choice) in low:
                    return letters[i]
    return None


def extract_answer(text: str, kind: AnswerKind, choices: list[str] | None = None) -> str | None:
    """Parse an answer of the given kind from a model response; None if unparseable."""
    if not text or not text.strip():
        return None
    if kind in (AnswerKind.NUMERIC, AnswerKind.REGRESSION):
        return _numeric(text)
    if kind in (AnswerKind.CHOICE, AnswerKind.BEHAVIOUR):
        return _choice(text, choices)
    tags = _TAG.findall(text)
    if tags:
        return normalise(tags[-1]) or None
    opened = _OPEN_TAG.findall(text)
    if opened:
        return normalise(opened[-1]) or None
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return normalise(lines[-1]) if lines else None


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
        return 1.0 if got is not None and want is not None and got == want else 0.0
    return 1.0 if normalise(answer) == normalise(target) else 0.0
