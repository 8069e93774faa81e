"""Streamed raw completions with per-token bytes, for pipelined prefix-shared sweeps.

A sweep streams its largest-cap thinking trace and forces the answer at each smaller cap
as soon as the trace has passed it. That is only sound if the bytes of the first ``n``
streamed tokens are exactly what a separate request with ``max_tokens=n`` returns.

llama.cpp streams one chunk per token with that token's bytes, *except* while the text's
tail could be the start of a stop string (``</think>``): those tokens arrive with empty
bytes and the held text is attached to a later token (or dropped, when the stop string
completes). So ``ExactPrefix`` vouches for the bytes of leading tokens that arrived with
their own bytes and were followed by another non-empty token. Token ids stay exact
throughout, so beyond that a cut that lies before the last token with text (it cannot be
part of the stop string) is exact via ``/detokenize``; see ``reasoning.sweep``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from overthink.engines.base import CompletionResult, Engine, StreamState, TokenSink
from overthink.engines.bodies import clean_text
from overthink.engines.completions_http import (
    Usage,
    finish_reason,
    open_completion_stream,
    token_entries,
)
from overthink.engines.retry import BadResponse

if TYPE_CHECKING:
    from overthink.engines.openai_compat import OpenAICompatEngine

__all__ = ["ExactPrefix", "stream_completion"]


@dataclass
class ExactPrefix:
    """Builds a ``StreamState`` token by token."""

    state: StreamState = field(default_factory=StreamState)
    _clean: bool = True

    def add(self, piece: bytes, token_id: int | None = None) -> None:
        """Append one streamed token's bytes (and id, when the server sends ids)."""
        state = self.state
        state.pieces.append(piece)
        if token_id is not None and (state.ids is not None or len(state.pieces) == 1):
            state.ids = [*(state.ids or []), token_id]
        elif state.ids is not None:
            state.ids = None  # ids for some tokens only: use none
        if not piece:
            # Held back (a possible stop string, or an incomplete UTF-8 character): the
            # bytes of this token and later ones can no longer be attributed exactly.
            self._clean = False
            return
        state.released = len(state.pieces) - 1
        if self._clean:
            # The new non-empty token confirms the one before it.
            state.exact = len(state.pieces) - 1

    @property
    def pieces(self) -> list[bytes]:
        """Token bytes so far."""
        return self.state.pieces

    @property
    def exact(self) -> int:
        """See ``StreamState.exact``."""
        return self.state.exact


@dataclass
class _Attempt:
    """What one streamed attempt has gathered so far."""

    tracker: ExactPrefix = field(default_factory=ExactPrefix)
    text: list[str] = field(default_factory=list)
    finish: str | None = None
    usage: Usage | None = None
    events: int = 0
    counted: int = 0
    """Tokens already added to the engine's running total."""
    last: dict[str, Any] | None = None
    """The last event: llama.cpp puts the request's ``timings`` there."""

    def add(self, event: dict[str, Any], engine: Engine, on_tokens: TokenSink | None) -> None:
        """Take one checked event: its text, its tokens (reported to ``on_tokens``), usage."""
        self.events += 1
        self.last = event
        self.usage = Usage.of(event.get("usage")) or self.usage
        for choice in event["choices"]:
            self.text.append(choice["text"])
            self.finish = finish_reason(choice) or self.finish
            added = token_entries(choice.get("logprobs"))
            for piece, token_id in added:
                self.tracker.add(piece, token_id)
            # Counted as they arrive, so progress shows the rate while traces stream.
            engine.generated_tokens += len(added)
            self.counted += len(added)
            if added and on_tokens is not None:
                on_tokens(self.tracker.state)

    @classmethod
    def whole(cls, body: dict[str, Any]) -> _Attempt:
        """A server that ignored ``stream``: its one body, every token known at the end."""
        attempt = cls(usage=Usage.of(body.get("usage")), events=1, last=body)
        choice = body["choices"][0]
        attempt.text.append(choice["text"])
        attempt.finish = finish_reason(choice)
        state = attempt.tracker.state
        state.pieces = [piece for piece, _ in token_entries(choice.get("logprobs"))]
        # The last token has no known successor (see ``Engine.complete_stream``). The sink
        # is not told: the sweep settles these cuts from ``result.stream``, each charged
        # its share of the trace's time rather than all of it.
        state.exact = max(0, len(state.pieces) - 1)
        return attempt

    def result(self, engine: Engine, request: dict[str, Any], retries: int) -> CompletionResult:
        """The finished completion; the engine's totals topped up to the server's count."""
        usage = self.usage or Usage()
        completion_tokens = usage.completion_tokens or len(self.tracker.pieces)
        engine.generated_tokens += completion_tokens - self.counted
        return CompletionResult(
            # Lone surrogates repaired (and the trial flagged) as on the non-streamed path.
            text=clean_text("".join(self.text)),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=self.finish,
            request=request,
            retries=retries,
            token_bytes=self.tracker.pieces,
            stream=self.tracker.state,
        )


async def stream_completion(
    engine: OpenAICompatEngine,
    prompt: str,
    *,
    max_tokens: int,
    temperature: float,
    seed: int | None,
    stop: list[str] | None,
    on_tokens: TokenSink | None,
) -> CompletionResult:
    """One streamed ``/v1/completions`` call through ``engine``'s HTTP client and retry loop.

    A retried call restarts the stream (the sink sees the token list start over); cuts a
    caller already took from an earlier attempt stay as drawn.
    """
    if max_tokens < 1:
        raise ValueError("complete_stream() needs max_tokens >= 1")
    request: dict[str, Any] = {
        "model": engine.model,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "logprobs": 1,
    }
    if seed is not None:
        request["seed"] = seed
    if stop:
        request["stop"] = stop
    body = engine._extra(None)
    source = f"{engine.name} /completions (stream)"

    async def consume() -> _Attempt | None:
        sent = time.perf_counter()
        payload = {"prompt": prompt, **request, **engine.placed(body)}
        streamed = {**payload, "stream_options": {"include_usage": True}}
        attempt = _Attempt()
        async with open_completion_stream(engine._http, streamed, source) as stream:
            # A malformed event is a bad body like any other: retried, restarting the
            # stream (the sink sees the tokens start over).
            async for event in stream:
                attempt.add(event, engine, on_tokens)
        if stream.plain is not None:
            attempt = _Attempt.whole(stream.plain)
        elif attempt.events and not stream.done and attempt.finish is None:
            # Cut off between two events (a dropped proxy, a truncated body): retried.
            raise BadResponse(f"{source} ended after {attempt.events} events without "
                              "a finish_reason or [DONE]")  # fmt: skip
        if not attempt.events:
            return None  # an empty stream: ask again without streaming
        engine.note_served("stream", sent, attempt.last, payload)
        return attempt

    attempt, retries = await engine._call(consume)
    if attempt is None:
        result = await Engine.complete_stream(
            engine, prompt, max_tokens=max_tokens, temperature=temperature, seed=seed,
            stop=stop, on_tokens=on_tokens,
        )  # fmt: skip
        result.retries += retries
        return result
    engine.count_usage(attempt.usage or Usage())
    return attempt.result(engine, {"endpoint": "completions", "stream": True, **request, **body},
                          retries)  # fmt: skip
