"""The shared vocabulary: Sample, Budget, Trial, Record.

Every layer speaks these types. They are pydantic models so that configs, the store and
exports validate the same way, and so that a Trial's identity (its content hash) is a pure
function of what it asks for.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from overthink.textsafe import storable

__all__ = [
    "VIOLATION_PERCENT",
    "VIOLATION_TOLERANCE",
    "AnswerKind",
    "Budget",
    "BudgetMode",
    "Record",
    "Sample",
    "Trial",
    "canonical_json",
    "exceeds_budget",
]

VIOLATION_TOLERANCE = 0.10
"""How far reasoning may run past its budget before a record is a ``budget_violation``.

Token counts at a cut are approximate (a forced stop lands a few tokens late, providers
count differently), so only an overshoot of more than this fraction is flagged."""
VIOLATION_PERCENT = f"{VIOLATION_TOLERANCE * 100:g} %"
"""The tolerance as the messages print it (``10 %``)."""


def exceeds_budget(reasoning_tokens: int, budget_tokens: int) -> bool:
    """True when ``reasoning_tokens`` exceed ``budget_tokens`` by more than the tolerance.

    A negative budget means no limit and is never exceeded.
    """
    return budget_tokens >= 0 and reasoning_tokens > budget_tokens * (1 + VIOLATION_TOLERANCE)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal content hashes equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class AnswerKind(StrEnum):
    """How a sample's answer is extracted and scored."""

    EXACT = "exact"
    """Normalised string equality (e.g. a zebra cell)."""
    NUMERIC = "numeric"
    """An integer/number compared exactly (accuracy tasks such as misleading_math)."""
    CHOICE = "choice"
    """A multiple-choice letter among ``Sample.choices``."""
    BEHAVIOUR = "behaviour"
    """A multiple-choice letter scored as the rate of the *safe* option (risk tasks)."""
    REGRESSION = "regression"
    """A number scored by absolute error (lower is better)."""


class Sample(BaseModel):
    """One question of a task.

    ``meta`` carries the task's knobs for this question (``distractors``, ``grid``,
    ``shots``...): it becomes the third axis of every analysis.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    """Stable identifier, unique within the task for a given seed and knob setting."""
    task: str
    """Registered task name that produced the sample."""
    prompt: str
    """The user message shown to the model (includes the answer-format instruction)."""
    target: str
    """The correct answer as text (a number for numeric/regression tasks, a letter for choice)."""
    kind: AnswerKind = AnswerKind.NUMERIC
    """How to extract and score the answer."""
    choices: list[str] | None = None
    """Option texts for choice/behaviour tasks, in letter order (A, B, ...)."""
    system: str | None = None
    """Optional task-specific system prompt."""
    meta: dict[str, Any] = Field(default_factory=dict)
    """Task knobs and descriptive fields; keys become analysis axes."""


class BudgetMode(StrEnum):
    """How the amount of thinking is controlled."""

    NONE = "none"
    """Answer directly; no thinking segment."""
    NATURAL = "natural"
    """No limit; the model decides."""
    PROMPT = "prompt"
    """The budget is only stated in the prompt."""
    NATIVE = "native"
    """The provider's own parameter (reasoning_effort, budget_tokens, ...)."""
    FORCED = "forced"
    """s1 budget forcing done by us over a raw-completion endpoint."""


class Budget(BaseModel):
    """How much the model may think, and how that is enforced.

    ``tokens`` is the *requested* budget: -1 for natural, 0 for none. The parameters really
    sent are recorded separately on the Record (``resolved``), and the tokens really spent
    as ``reasoning_tokens``.
    """

    model_config = ConfigDict(frozen=True)

    mode: BudgetMode
    tokens: int = -1
    """Requested reasoning tokens; -1 = natural (unlimited), 0 = none."""
    min_tokens: int = 0
    """Forced mode only: suppress an end of thinking before this many tokens."""
    max_waits: int = 0
    """Forced mode only: how many times "Wait" may be appended to extend thinking."""
    wait_word: str = "Wait"
    """Forced mode only: the word appended when an early end of thinking is suppressed."""

    @property
    def label(self) -> str:
        """Short human label, e.g. ``forced:128`` or ``natural``."""
        if self.mode in (BudgetMode.NATURAL, BudgetMode.NONE):
            return self.mode.value
        return f"{self.mode.value}:{self.tokens}"

    @classmethod
    def parse(cls, text: str, default_mode: BudgetMode = BudgetMode.FORCED) -> Budget:
        """Parse ``"128"``, ``"forced:128"``, ``"natural"``, ``"none"``, ``"prompt:256"``.

        A bare integer uses ``default_mode``; ``0`` is a forced cap of zero thinking tokens
        in forced mode (answer right after an empty thinking segment) and ``none`` otherwise;
        ``-1`` means natural.
        """
        raw = text.strip().lower()
        if not raw:
            raise ValueError("empty budget")
        if raw in ("natural", "-1"):
            return cls(mode=BudgetMode.NATURAL, tokens=-1)
        if raw == "none":
            return cls(mode=BudgetMode.NONE, tokens=0)
        mode_text, sep, num = raw.partition(":")
        if not sep:
            mode_text, num = default_mode.value, raw
        try:
            mode = BudgetMode(mode_text)
        except ValueError:
            accepted = ", ".join(m.value for m in BudgetMode)
            raise ValueError(f"unknown budget mode {mode_text!r} (accepted: {accepted})") from None
        try:
            tokens = int(num)
        except ValueError:
            raise ValueError(f"budget {text!r}: {num!r} is not an integer token count") from None
        if tokens < 0:
            raise ValueError(
                f"budget {text!r}: token count must be >= 0 (use 'natural' for no limit)"
            )
        if mode is BudgetMode.NATURAL:
            return cls(mode=mode, tokens=-1)
        if mode is BudgetMode.NONE:
            return cls(mode=mode, tokens=0)
        return cls(mode=mode, tokens=tokens)


class Trial(BaseModel):
    """One unit of work. Its content hash (``trial_id``) is its identity in the store."""

    model_config = ConfigDict(frozen=True)

    sample: Sample
    model: str
    budget: Budget
    strategy: str = "single"
    sample_index: int = 0
    seed: int = 0
    temperature: float = 0.0
    max_answer_tokens: int = 48
    max_reasoning_tokens: int = 2048
    """Safety cap for natural/prompt budgets (a runaway trace is recorded as truncated)."""
    deterministic: bool = False
    settings: str = ""
    """Run-wide generation settings changed from their defaults (how a prompt budget is
    stated, think markers, native-budget style...) as canonical JSON; "" when all are
    default. Part of the identity only when set, so ids of default runs never change."""

    @property
    def trial_id(self) -> str:
        """SHA-256 (hex, 24 chars) of everything that determines the trial's output."""
        ident = {
            "sample": self.sample.model_dump(mode="json"),
            "model": self.model,
            "budget": self.budget.model_dump(mode="json"),
            "strategy": self.strategy,
            "sample_index": self.sample_index,
            "seed": self.seed,
            "temperature": self.temperature,
            "max_answer_tokens": self.max_answer_tokens,
            "max_reasoning_tokens": self.max_reasoning_tokens,
            "deterministic": self.deterministic,
        }
        if self.settings:
            ident["settings"] = self.settings
        return hashlib.sha256(canonical_json(ident).encode()).hexdigest()[:24]


_TEXT_FIELDS = (
    "prompt", "reasoning", "response", "answer", "target", "error", "finish_reason",
    "sample_id", "verifier",
)  # fmt: skip


def _json_has_surrogates(value: Any) -> bool:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return storable(text)[1]


class Record(BaseModel):
    """Everything about one finished trial (or one production request).

    One flat schema for experiments and telemetry, so analysis and monitoring share code.
    """

    run: str
    trial_id: str
    task: str
    sample_id: str
    model: str
    budget_mode: str
    budget_tokens: int
    """Requested reasoning budget; -1 = natural."""
    resolved: dict[str, Any] = Field(default_factory=dict)
    """Exact request parameters sent (minus secrets), per request stage."""
    strategy: str = "single"
    sample_index: int = 0
    seed: int = 0
    prompt: str = ""
    prompt_tokens: int = 0
    reasoning_tokens: int = 0
    answer_tokens: int = 0
    reasoning: str = ""
    response: str = ""
    answer: str | None = None
    """Parsed answer, or None when nothing could be parsed."""
    target: str = ""
    kind: str = AnswerKind.NUMERIC.value
    score: float | None = None
    """1/0 for accuracy tasks, absolute error for regression, None when not scorable."""
    meta: dict[str, Any] = Field(default_factory=dict)
    finish_reason: str | None = None
    truncated_in_reasoning: bool = False
    """The budget cap or max_tokens was hit inside the thinking segment."""
    empty_answer: bool = False
    budget_violation: bool = False
    """Observed reasoning exceeded the enforced budget by more than ``VIOLATION_TOLERANCE``
    (see :func:`exceeds_budget`)."""
    latency_s: float = 0.0
    retries: int = 0
    error: str | None = None
    verifier: str | None = None
    verifier_score: float | None = None
    created_at: float = 0.0
    text_repaired: bool = False
    """Text from the server held code points that cannot be stored (lone UTF-16
    surrogates); they were replaced by U+FFFD. The record is kept and flagged."""

    @model_validator(mode="after")
    def _storable_text(self) -> Record:
        # A lone surrogate is valid JSON from a server but not UTF-8: SQLite and every
        # file export would reject it, killing the run (and its resume) at the write.
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                fixed, changed = storable(value)
                if changed:
                    object.__setattr__(self, name, fixed)
                    object.__setattr__(self, "text_repaired", True)
        for name in ("meta", "resolved"):
            value = getattr(self, name)
            if value and _json_has_surrogates(value):
                fixed_map = json.loads(storable(json.dumps(value, ensure_ascii=False))[0])
                object.__setattr__(self, name, fixed_map)
                object.__setattr__(self, "text_repaired", True)
        return self

    @property
    def total_tokens(self) -> int:
        """Prompt + reasoning + answer tokens."""
        return self.prompt_tokens + self.reasoning_tokens + self.answer_tokens
