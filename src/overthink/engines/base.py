"""The engine protocol: an async client for one model with two verbs, chat and complete."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from overthink.core import BudgetMode
from overthink.engines.markers import DEFAULT_MARKERS, ThinkMarkers
from overthink.errors import ConfigError

__all__ = [
    "ChatBudget",
    "ChatResult",
    "CompletionResult",
    "Engine",
    "Message",
    "StreamState",
    "TokenSink",
]

Message = dict[str, str]


@dataclass
class StreamState:
    """A streamed completion so far, as a prefix-shared sweep needs it."""

    pieces: list[bytes] = field(default_factory=list)
    """Bytes of each token as streamed (empty while the server held its text back)."""
    ids: list[int] | None = None
    """Token ids, when the server sends them (llama.cpp): exact even where bytes are not."""
    exact: int = 0
    """Leading tokens whose streamed bytes are final and that are followed by another
    token: a cut after ``n <= exact`` tokens is exactly what a separate request with
    ``max_tokens=n`` returns."""
    released: int = 0
    """Index of the last token that came with text: the tokens before it are thinking, not
    part of a stop string, so a cut after ``n <= released`` tokens is exact given ``ids``."""


TokenSink = Callable[[StreamState], None]
"""Called as a streamed completion grows."""


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
    response_meta: dict[str, Any] = field(default_factory=dict)
    """Provider facts about the answer worth keeping (raw stop reason, usage breakdown)."""


@dataclass
class ChatBudget:
    """How one chat request carries a budget on a given engine.

    The budget layer picks the reasoning cap; the engine turns it into what its API
    understands. Everything here ends up in the record's ``resolved``.
    """

    max_tokens: int
    """The output limit to send (reasoning + answer on every API that counts both)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Provider parameters to send with the request (``reasoning_effort``, ``thinking``...)."""
    enforced_cap: int | None = None
    """Reasoning tokens the provider was asked to stay within (None: no token-level limit)."""
    notes: dict[str, Any] = field(default_factory=dict)
    """How the request was derived (bucket edges, a raised minimum...)."""


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
    stream: StreamState | None = None
    """The final stream state of a streamed completion."""
    token_logprobs: list[float] | None = None
    """Log-probability of each generated token, when asked for and the server sends them."""


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
    think_open: str = DEFAULT_MARKERS.open
    think_close: str = DEFAULT_MARKERS.close
    think_source: str = DEFAULT_MARKERS.source
    """Where the markers came from: ``config``, ``chat_template`` or ``default``."""
    deterministic: bool = False
    """One request in flight and no prompt-cache reuse, so greedy output repeats exactly."""
    generated_tokens: int = 0
    """Tokens this engine has generated so far (completion tokens over all calls)."""
    prompt_tokens_seen: int = 0
    """Prompt tokens sent so far (over all calls)."""
    prompt_tokens_cached: int = 0
    """Of those, tokens the server reported as served from its prompt cache."""
    concurrency: int = 1
    """Requests this engine keeps in flight (engines with a pool of slots set theirs)."""
    concurrency_from: str = "config"
    """Who set ``concurrency``: ``config``, ``default``, ``server`` (its ``/props``) or
    ``SLOT_TABLE`` (the embedded server's measured best); recorded in the run manifest."""

    @property
    def startup_s(self) -> float | None:
        """Seconds this engine took to start a server of its own (None: it starts none)."""
        return None

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

    async def complete_stream(
        self,
        prompt: str,
        *,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
        stop: list[str] | None = None,
        on_tokens: TokenSink | None = None,
    ) -> CompletionResult:
        """``complete`` with token bytes, reporting tokens to ``on_tokens`` as they arrive.

        Engines that cannot stream never call ``on_tokens``: every token arrives at once,
        in ``result.stream``. A prefix-shared sweep then takes its cuts after the trace,
        each charged its share of the trace's time rather than all of it.
        """
        result = await self.complete(
            prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            stop=stop,
            want_tokens=True,
        )
        pieces = result.token_bytes or []
        # Non-streamed token bytes are the real tokens before any stop string; the last
        # one has no known successor.
        state = StreamState(pieces=pieces, exact=max(0, len(pieces) - 1))
        result.stream = state
        return result

    async def detokenize(self, ids: list[int]) -> str:
        """The text of token ``ids`` with the model's tokenizer."""
        raise NotImplementedError(f"engine {self.name!r} cannot detokenize")

    def set_markers(self, markers: ThinkMarkers) -> None:
        """Use ``markers`` for thinking segments (from the config or the chat template)."""
        self.think_open, self.think_close = markers.open, markers.close
        self.think_source = markers.source

    @property
    def markers_from_model(self) -> bool:
        """True when the model is known to think in our markers (template or config)."""
        return self.think_source != DEFAULT_MARKERS.source

    def chat_budget(self, mode: BudgetMode, reasoning_cap: int, answer_tokens: int) -> ChatBudget:
        """The request for a chat call under ``mode`` with at most ``reasoning_cap`` tokens.

        ``reasoning_cap`` is the budget for ``native``, a safety cap for ``natural`` and
        ``prompt``, and 0 for ``none``. Engines with a provider parameter override this;
        the default sends no thinking parameter and refuses ``native``. It must stay pure
        (no I/O): it also validates budgets before a run starts.
        """
        if mode is BudgetMode.NATIVE:
            raise ConfigError(
                f"model {self.name!r} has no native budget parameter "
                "(use forced or prompt budgets, or a provider that has one)"
            )
        if mode is BudgetMode.FORCED:
            raise ConfigError(f"model {self.name!r}: forced budgets need a raw-completion endpoint")
        if mode is BudgetMode.NONE:
            return ChatBudget(max_tokens=answer_tokens, enforced_cap=0)
        return ChatBudget(max_tokens=reasoning_cap + answer_tokens)

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
        return {
            "engine": type(self).__name__,
            "deterministic": self.deterministic,
            "think_markers_from": self.think_source,
        }
