"""A scripted chat/completion engine with no server: test your own tasks without a model.

:class:`FakeEngine` plays the part of a reasoning model (like inspect_ai's ``mockllm``):
its reasoning and answer are scripted per question by a :class:`FakeReply` or a function
of the :class:`FakeRequest`, so a test knows exactly what every trial must record. It is
a raw-completion engine that thinks in ``<think>`` markers, so every budget mode runs the
same code path as on llama.cpp:

* ``forced:B`` — the thinking is cut after B tokens (``finish_reason="length"``), "Wait"
  words are appended below ``min_tokens``, and the answer is forced after
  ``Final answer:``;
* ``natural`` and ``prompt:B`` — the whole scripted reasoning (up to the safety cap);
* ``none`` — no reasoning: the answer follows an empty thinking segment;
* ``native:B`` — through ``chat`` with a reasoning cap of B.

Tokens are whitespace-separated words: ``"a b c"`` is three tokens, for the reasoning,
the answer and ``count_tokens`` alike. A reply's ``answer`` may be a function of the
reasoning tokens actually spent, which is how a test plants an inverse-scaling effect
("correct below 40 tokens of thinking, wrong above"). Every call is counted
(:attr:`FakeEngine.calls`, :attr:`FakeEngine.requests`, ``generated_tokens``).

Without a script the engine answers "2" after a few "hmm" words derived from a hash of
the request — deterministic, and different between questions and seeds. It can also wait
(``latency_s``) or kill its own process once (``die_once``), for executor tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from overthink.core import BudgetMode
from overthink.engines.base import ChatBudget, ChatResult, CompletionResult, Engine, Message

__all__ = [
    "FakeEngine",
    "FakeEngineFactory",
    "FakeReply",
    "FakeRequest",
    "Responder",
    "UnreachableEngineFactory",
]

_ASSISTANT = "<|assistant|>\n"
# The provider parameter a native budget is sent as (recorded in ``resolved``).
_NATIVE_PARAM = "reasoning_budget"


@dataclass(frozen=True)
class FakeRequest:
    """What the fake "model" was asked: the question and how."""

    question: str
    """The last user message (the sample's prompt)."""
    system: str = ""
    """The system prompt ('' if none): e.g. the stated budget of a ``prompt:B`` trial."""
    seed: int | None = None
    temperature: float = 0.0


@dataclass(frozen=True)
class FakeReply:
    """A scripted generation: the reasoning the model would write, then its answer.

    ``answer`` is text, or a function of the reasoning tokens actually spent (after a
    budget cut or "Wait" extensions) returning the text.
    """

    answer: str | Callable[[int], str]
    reasoning: str = ""

    def answer_after(self, reasoning_tokens: int) -> str:
        """The answer given after ``reasoning_tokens`` tokens of thinking."""
        return self.answer(reasoning_tokens) if callable(self.answer) else self.answer


Responder = Callable[[FakeRequest], FakeReply | str]
"""A function from the request to the reply (a bare string is an answer, no reasoning)."""


def _words(text: str) -> list[str]:
    return text.split()


def _emit(words: list[str]) -> str:
    # Each token is a word with its leading space, so the text of the first n tokens is
    # exactly what a request with max_tokens=n returns (what prefix-shared sweeps need).
    return "".join(f" {w}" for w in words)


def _limit(max_tokens: int | None) -> int | None:
    # llama.cpp's convention: 0 (or no value) means no limit.
    return max_tokens if max_tokens is not None and max_tokens > 0 else None


def _default_reply(request: FakeRequest) -> FakeReply:
    key = f"{request.system}|{request.question}|{request.temperature}|{request.seed}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    return FakeReply(answer="2", reasoning=" ".join(["hmm"] * (1 + int(digest[:2], 16) % 12)))


class FakeEngine(Engine):
    """A deterministic scripted model: every budget mode, no server (see the module doc).

    ``reply``: a :class:`FakeReply` for every question, a bare answer string, or a
    :data:`Responder` mapping each :class:`FakeRequest` to its reply. None gives the
    built-in hash-derived reply (a few "hmm" words, answer "2").
    """

    capabilities = frozenset(BudgetMode)
    can_complete = True
    # The fake's own chat template thinks in the default markers.
    think_source = "chat_template"

    def __init__(
        self,
        name: str = "fake",
        reply: FakeReply | str | Responder | None = None,
        *,
        latency_s: float = 0.0,
        concurrency: int = 2,
        die_once: tuple[Path, int] | None = None,
    ) -> None:
        self.name = name
        self.reply = reply
        self.latency_s = latency_s
        self.concurrency = concurrency
        self.die_once = die_once
        self.calls = 0
        """Generation calls so far (``chat`` and ``complete``)."""
        self.requests: list[dict[str, Any]] = []
        """Every generation call's parameters, in order (endpoint, max_tokens, seed...)."""
        self.inflight = 0
        self.max_inflight = 0
        """The most calls that were ever in flight at once (at most ``concurrency``)."""
        self._sem: asyncio.Semaphore | None = None
        self._rendered: dict[str, FakeRequest] = {}

    # -- the script ---------------------------------------------------------------------

    def reply_for(self, request: FakeRequest) -> FakeReply:
        """The scripted reply to ``request``."""
        reply = self.reply(request) if callable(self.reply) else self.reply
        if reply is None:
            return _default_reply(request)
        return FakeReply(answer=reply) if isinstance(reply, str) else reply

    @staticmethod
    def _request(messages: list[Message], seed: int | None, temperature: float) -> FakeRequest:
        users = [m["content"] for m in messages if m.get("role") == "user"]
        system = "\n".join(m["content"] for m in messages if m.get("role") == "system")
        return FakeRequest(users[-1] if users else "", system, seed, temperature)

    async def _call(self, params: dict[str, Any]) -> None:
        """Count the call, honour ``concurrency`` and ``latency_s``, maybe die."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        async with self._sem:
            self.calls += 1
            self.requests.append(params)
            if self.die_once is not None:
                marker, at_call = self.die_once
                if self.calls >= at_call and not marker.exists():
                    marker.write_text(str(os.getpid()))
                    os._exit(1)  # a crash, not an exception: nothing can clean up
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            try:
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
            finally:
                self.inflight -= 1

    # -- the Engine protocol ------------------------------------------------------------

    def chat_budget(self, mode: BudgetMode, reasoning_cap: int, answer_tokens: int) -> ChatBudget:
        if mode is BudgetMode.NATIVE:
            return ChatBudget(
                max_tokens=reasoning_cap + answer_tokens,
                params={_NATIVE_PARAM: reasoning_cap},
                enforced_cap=reasoning_cap,
            )
        return super().chat_budget(mode, reasoning_cap, answer_tokens)

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
        params = {"endpoint": "chat", "max_tokens": max_tokens, "seed": seed,
                  "temperature": temperature, **(extra or {})}  # fmt: skip
        await self._call(params)
        request = self._request(messages, seed, temperature)
        reply = self.reply_for(request)
        limit = _limit(max_tokens)
        cap = (extra or {}).get(_NATIVE_PARAM, limit)
        reasoning = _words(reply.reasoning)
        if cap is not None:
            reasoning = reasoning[:cap]
        answer = _words(reply.answer_after(len(reasoning)))
        room = None if limit is None else max(0, limit - len(reasoning))
        cut = room is not None and len(answer) > room
        answer = answer[:room] if room is not None else answer
        prompt_tokens = sum(len(_words(m.get("content", ""))) for m in messages)
        self.generated_tokens += len(reasoning) + len(answer)
        self.prompt_tokens_seen += prompt_tokens
        return ChatResult(
            text=" ".join(answer),
            reasoning=" ".join(reasoning),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(reasoning) + len(answer),
            reasoning_tokens=len(reasoning),
            finish_reason="length" if cut else "stop",
            request=params,
        )

    async def render_chat(self, messages: list[Message]) -> str:
        rendered = "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + _ASSISTANT
        # Remembered so ``complete`` knows which question a continuation belongs to.
        self._rendered[rendered] = self._request(messages, None, 0.0)
        return rendered

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
        params = {"endpoint": "completion", "max_tokens": max_tokens, "seed": seed,
                  "temperature": temperature, "stop": stop}  # fmt: skip
        await self._call(params)
        head, sep, tail = prompt.rpartition(_ASSISTANT)
        rendered = head + sep
        base = self._rendered.get(rendered) or FakeRequest(question=head)
        reply = self.reply_for(replace(base, seed=seed, temperature=temperature))
        body = tail.removeprefix(self.think_open)
        limit = _limit(max_tokens)
        if self.think_close in body:
            # The thinking segment is closed: answer after what was thought.
            thought = body.split(self.think_close, 1)[0]
            words = _words(reply.answer_after(len(_words(thought))))
            cut = limit is not None and len(words) > limit
        else:
            # Thinking: continue the scripted reasoning from where the prompt is (an
            # inserted "Wait" takes the place of a word); stop before the close marker,
            # which needs one more token than the words themselves.
            words = _words(reply.reasoning)[len(_words(body)) :]
            cut = limit is not None and len(words) >= limit
        emitted = words[:limit] if limit is not None else words
        prompt_tokens = len(_words(prompt))
        self.generated_tokens += len(emitted)
        self.prompt_tokens_seen += prompt_tokens
        return CompletionResult(
            text=_emit(emitted),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(emitted),
            finish_reason="length" if cut else "stop",
            request=params,
            token_bytes=[f" {w}".encode() for w in emitted] if want_tokens else None,
        )

    async def count_tokens(self, text: str) -> int:
        return len(_words(text))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": self.name}


@dataclass(frozen=True)
class FakeEngineFactory:
    """Picklable ``model name -> FakeEngine`` (what a Ray actor calls to build its engine)."""

    latency_s: float = 0.0
    concurrency: int = 2
    die_once: tuple[Path, int] | None = None

    def __call__(self, model: str) -> Engine:
        return FakeEngine(
            model, latency_s=self.latency_s, concurrency=self.concurrency, die_once=self.die_once
        )


@dataclass(frozen=True)
class UnreachableEngineFactory:
    """Picklable factory whose engines fail their health check (a worker that cannot start)."""

    message: str = "cannot reach model server at http://127.0.0.1:9: ConnectError"

    def __call__(self, model: str) -> Engine:
        message = self.message

        class Unreachable(FakeEngine):
            async def check(self) -> None:
                from overthink.errors import EngineUnavailable

                raise EngineUnavailable(message)

        return Unreachable(model)
