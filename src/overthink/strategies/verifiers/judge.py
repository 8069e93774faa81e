"""``judge``: an LLM grades each sample's answer (LLM-as-judge) through any engine.

The judge sees the question and the proposed final answer — never the target, and by
default not the sample's reasoning (a long, confident rationale is exactly what sways a
weak judge; ``show_reasoning=True`` adds its last :data:`REASONING_CHARS` characters).
It is asked for one line ``Score: N`` with N from 0 to 10, at temperature 0; the reply is
parsed by :func:`parse_judge_score`, and a reply with no recognisable score is a verifier
failure (null score, counted), never an exception. A sample without a parsed answer
scores 0 without a call: there is nothing to grade.

The prompt (version ``judge-v1``; system message: "You are a careful, strict grader of
answers to questions."; ``{reasoning_block}`` is empty unless ``show_reasoning``)::

    Another assistant answered the question below. Decide whether its final answer is
    correct. You are not told the correct answer: work it out from the question itself.

    Question:
    {question}
    {reasoning_block}
    Proposed final answer: {answer}

    Is the proposed final answer correct? Reply with exactly one line of the form
    "Score: N", where N is a whole number from 0 (certainly wrong) to 10 (certainly
    correct).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from overthink.core import Record
from overthink.engines.base import Engine, Message
from overthink.errors import ConfigError
from overthink.strategies.verifiers.base import Verdict, Verifier, VerifierContext, VerifierError
from overthink.strategies.verifiers.registry import register_verifier
from overthink.tasks.extract import answer_key

__all__ = [
    "JUDGE_PROMPT_VERSION",
    "JUDGE_SYSTEM",
    "JUDGE_TEMPLATE",
    "REASONING_CHARS",
    "JudgeVerifier",
    "judge_messages",
    "parse_judge_score",
]

JUDGE_PROMPT_VERSION = "judge-v1"
"""Recorded with every judge score: change it whenever the prompt changes."""
JUDGE_SYSTEM = "You are a careful, strict grader of answers to questions."
JUDGE_TEMPLATE = """\
Another assistant answered the question below. Decide whether its final answer is \
correct. You are not told the correct answer: work it out from the question itself.

Question:
{question}
{reasoning_block}
Proposed final answer: {answer}

Is the proposed final answer correct? Reply with exactly one line of the form \
"Score: N", where N is a whole number from 0 (certainly wrong) to 10 (certainly correct)."""
REASONING_CHARS = 1500
"""How much of the sample's reasoning (its end) the judge sees with ``show_reasoning``."""

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.IGNORECASE | re.DOTALL)
_NUM = r"(\d+(?:\.\d+)?)"
_SCORE = re.compile(rf"score\s*(?:is|of)?\s*[:=]?\s*\**\s*{_NUM}\s*(?:(?:/|out of)\s*(\d+))?", re.I)
_RATIO = re.compile(rf"{_NUM}\s*(?:/|out of)\s*(10|100|5|1)\b", re.IGNORECASE)
_PERCENT = re.compile(rf"^{_NUM}\s*%$")
_BARE = re.compile(rf"^{_NUM}$")
_START_YES = re.compile(r"^\W*(?:yes|correct|right|true)\b", re.IGNORECASE)
_START_NO = re.compile(r"^\W*(?:no|incorrect|wrong|false)\b", re.IGNORECASE)
# "correct"/"right" as a verdict, not as the adjective of "the correct answer is 6".
_VERDICT = re.compile(
    r"\b(not correct|incorrect|wrong|not right|correct|right)\b(?!\s+(?:final\s+)?answer)",
    re.IGNORECASE,
)
_STATED = re.compile(
    r"\b(?:correct|right)\s+(?:final\s+)?answer\s+(?:is|would be|should be|:)\s*:?\s*"
    r"([^\n]+)",
    re.IGNORECASE,
)


def parse_judge_score(
    reply: str, answer: str | None = None, kind: str = "exact"
) -> tuple[float, str] | None:
    """A judge reply → (score in [0, 1], the rule that read it), or None for garbage.

    Rules, first match wins: ``Score: N`` (optionally ``/D``, default out of 10);
    ``N/D`` or ``N out of D``; a bare percentage; a bare number (integers 0–10 are out of
    10, a decimal in [0, 1] is taken as is); a leading yes/no or correct/incorrect; the
    first verdict word anywhere ("not correct" and "incorrect" before "correct"; "the
    correct answer" is not a verdict); and, given the proposed ``answer``, a stated
    "the correct answer is X": 1 if X is the proposed answer (same class, see
    ``answer_key``), else 0. A number outside its scale is garbage, not clipped.
    """
    text = _THINK.sub(" ", reply).strip().strip("*`\"' ")
    if not text:
        return None
    found = _SCORE.search(text)
    if found:
        return _scaled(found[1], found[2] or "10", "score")
    found = _RATIO.search(text)
    if found:
        return _scaled(found[1], found[2], "ratio")
    first_line = text.splitlines()[0].strip().rstrip(".")
    found = _PERCENT.match(first_line)
    if found:
        return _scaled(found[1], "100", "percent")
    found = _BARE.match(first_line)
    if found:
        value = float(found[1])
        if "." in found[1] and value <= 1.0:
            return value, "bare"
        return _scaled(found[1], "10", "bare")
    if _START_NO.match(text):
        return 0.0, "verdict"
    if _START_YES.match(text):
        return 1.0, "verdict"
    found = _VERDICT.search(text)
    if found:
        return (1.0 if found[1].lower() in ("correct", "right") else 0.0), "verdict"
    found = _STATED.search(text)
    if found and answer is not None:
        same = answer_key(found[1], kind) == answer_key(answer, kind)
        return (1.0 if same else 0.0), "stated_answer"
    return None


def _scaled(value: str, scale: str, rule: str) -> tuple[float, str] | None:
    num, den = float(value), float(scale)
    if den <= 0 or not 0.0 <= num <= den:
        return None
    return num / den, rule


def judge_messages(record: Record, *, show_reasoning: bool = False) -> list[Message]:
    """The judge's chat messages for one sample."""
    block = ""
    if show_reasoning and record.reasoning.strip():
        tail = record.reasoning.strip()[-REASONING_CHARS:]
        block = f"\nThe assistant's reasoning (its end):\n{tail}\n"
    prompt = JUDGE_TEMPLATE.format(
        question=record.prompt.strip(), reasoning_block=block, answer=record.answer
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": prompt}]


@register_verifier
class JudgeVerifier(Verifier):
    """LLM-as-judge over any engine (the embedded model by default)."""

    name: ClassVar[str] = "judge"
    needs_engine: ClassVar[bool] = True

    @classmethod
    def create(cls, context: VerifierContext) -> JudgeVerifier:
        """The judge over ``context.judge_engine`` (ConfigError without one)."""
        if context.judge_engine is None:
            raise ConfigError("the judge verifier needs an engine (--judge-model)")
        return cls(context.judge_engine, max_tokens=context.judge_max_tokens)

    def __init__(
        self,
        engine: Engine,
        *,
        max_tokens: int = 24,
        show_reasoning: bool = False,
        seed: int = 0,
    ) -> None:
        self.engine = engine
        self.max_tokens = max_tokens
        """A score line is a few tokens; a reasoning judge needs more (its thinking)."""
        self.show_reasoning = show_reasoning
        self.seed = seed

    async def verify(self, record: Record, peers: Sequence[Record]) -> Verdict:
        """Ask the judge; parse its score (VerifierError when it gives none)."""
        del peers  # the judge grades one sample at a time
        if record.answer is None or not record.answer.strip():
            return Verdict(0.0, {"skipped": "no answer to grade"})
        started = time.perf_counter()
        result = await self.engine.chat(
            judge_messages(record, show_reasoning=self.show_reasoning),
            max_tokens=self.max_tokens,
            temperature=0.0,
            seed=self.seed,
        )
        reply = result.text or result.reasoning
        parsed = parse_judge_score(reply, record.answer, record.kind)
        if parsed is None:
            raise VerifierError(f"no score in the judge's reply {reply[:80]!r}")
        score, rule = parsed
        detail: dict[str, Any] = {
            "reply": reply[:200],
            "rule": rule,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            # Charged to best_of_n / weighted records (strategies.records.verifier_cost).
            "latency_s": round(time.perf_counter() - started, 4),
        }
        return Verdict(score, detail)

    def describe(self) -> dict[str, Any]:
        """Judge model, prompt version and decoding settings."""
        return {
            "name": self.name,
            "model": self.engine.name,
            "prompt_version": JUDGE_PROMPT_VERSION,
            "max_tokens": self.max_tokens,
            "show_reasoning": self.show_reasoning,
            "temperature": 0.0,
        }
