"""The engine protocol: an async client for one model with two verbs, chat and complete."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from overthink.core import BudgetMode

__all__ = ["ChatResult", "CompletionResult", "Engine", "Message"]

Message = dict[str, str]


@dataclass
class ChatResult:
    """What a chat call returned, with the usage the server reported."""

    text: str
    """Visible answer text (thinking removed)."""
    reasoning: str
    """Reasoning text from a reasoning field or a ``<think>`` segment ('' if none)."""
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int | None
    """From usage when the server reports it; None when it does not (count it yourself)."""
    finish_reason: str | None
    request: dict[str, Any] = field(default_factory=dict)
    """The parameters sent (no secrets)."""
    retries: int = 0


@dataclass
class CompletionResult:
    """What a raw completion call returned."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    request: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    token_bytes: list[bytes] | None = None
    """Bytes of each generated token, when asked for (exact cuts at token boundaries)."""


class Engine(ABC):
    """An async client for one model.

    Subclasses declare what they can do in ``capabilities`` (the budget modes they can
    honour) and ``can_complete``; the budget layer refuses what an engine cannot enforce
    before any call is made.
    """

    name: str
    """The model name as recorded (e.g. ``embedded``, ``openai-api/qwen3``)."""
    capabilities: frozenset[BudgetMode] = frozenset({BudgetMode.NONE, BudgetMode.NATURAL})
    can_complete: bool = False
    think_open: str = "<think>"
    think_close: str = "</think>"
    deterministic: bool = False
    """One request in flight and no prompt-cache reuse, so greedy output repeats exactly."""
    generated_tokens: int = 0
    """Tokens this engine has generated so far (completion tokens over all calls)."""

    @abstractmethod
    async def chat(
        self,
        messages: list[Message],
        *,
        max_tokens: int | None,
        temperature: float,
        seed: int | None = None,
        stop: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> ChatResult:
        """Messages → text, reasoning, usage, finish reason."""

    async def complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
        stop: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        want_tokens: bool = False,
    ) -> CompletionResult:
        """Raw prompt text → continuation (needed for budget forcing).

        With ``want_tokens`` the result carries each generated token's bytes.
        """
        raise NotImplementedError(f"engine {self.name!r} has no raw-completion endpoint")

    async def render_chat(self, messages: list[Message]) -> str:
        """The model's chat template applied to ``messages``, ready for ``complete``."""
        raise NotImplementedError(f"engine {self.name!r} cannot render its chat template")

    async def count_tokens(self, text: str) -> int:
        """Exact token count of ``text`` with the model's tokenizer."""
        raise NotImplementedError(f"engine {self.name!r} cannot count tokens")

    async def check(self) -> None:  # noqa: B027 - optional hook, nothing to check by default
        """Raise ``EngineUnavailable`` if the model server cannot be reached."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections and any server this engine owns."""

    def describe(self) -> dict[str, Any]:
        """Engine facts recorded in every record's ``resolved`` (no secrets)."""
        return {"engine": type(self).__name__, "deterministic": self.deterministic}
