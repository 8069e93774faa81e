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

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from overthink.engines.base import CompletionResult, StreamState, TokenSink
from overthink.engines.bodies import bad_json, clean_text, expect_chunk

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


def _entries(logprobs: Any) -> list[tuple[bytes, int | None]]:
    """(bytes, id) of each token of one streamed chunk (llama.cpp ``content`` or OpenAI
    ``tokens``, which has no ids)."""
    if logprobs is None:
        return []
    extra = getattr(logprobs, "model_extra", None) or {}
    content = extra.get("content")
    if isinstance(content, list):
        out: list[tuple[bytes, int | None]] = []
        for item in content:
            raw = item.get("bytes")
            piece = bytes(raw) if raw is not None else str(item["token"]).encode()
            token_id = item.get("id")
            out.append((piece, token_id if isinstance(token_id, int) else None))
        return out
    tokens = getattr(logprobs, "tokens", None)
    return [(str(t).encode(), None) for t in tokens] if tokens else []


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
    """One streamed ``/v1/completions`` call through ``engine``'s client and retry loop.

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
    counted = 0
    """Tokens of the current attempt already added to the engine's running total."""

    async def consume() -> tuple[str, ExactPrefix, str | None, Any] | None:
        nonlocal counted
        counted = 0
        tracker = ExactPrefix()
        text: list[str] = []
        finish: str | None = None
        usage: Any = None
        chunks = 0
        last: Any = None
        sent = time.perf_counter()
        placed = engine.placed(body)
        stream = await engine._client.completions.create(
            prompt=prompt,
            stream=True,
            stream_options={"include_usage": True},
            extra_body=placed or None,
            **request,
        )
        try:
            async for chunk in stream:
                chunks += 1
                # A malformed event is a bad body like any other: retried, restarting
                # the stream (the sink sees the tokens start over).
                expect_chunk(chunk, source)
                usage = chunk.usage or usage
                last = chunk
                for choice in chunk.choices:
                    text.append(choice.text or "")
                    finish = choice.finish_reason or finish
                    added = _entries(choice.logprobs)
                    for piece, token_id in added:
                        tracker.add(piece, token_id)
                    # Counted as they arrive, so progress shows the rate while traces stream.
                    engine.generated_tokens += len(added)
                    counted += len(added)
                    if added and on_tokens is not None:
                        on_tokens(tracker.state)
        except json.JSONDecodeError as exc:
            await stream.close()  # release the connection before the retry
            raise bad_json(exc, source) from None
        except BaseException:
            await stream.close()
            raise
        if not chunks:
            return None  # the server answered without streaming (no SSE events)
        engine.note_served(
            "stream", sent, last, {"prompt": prompt, **request, **placed}
        )  # timings ride on the last event
        return "".join(text), tracker, finish, usage

    streamed, retries = await engine._call(consume)
    if streamed is None:
        # A server that ignores ``stream``: one plain request, cuts after the trace.
        from overthink.engines.base import Engine

        result = await Engine.complete_stream(
            engine, prompt, max_tokens=max_tokens, temperature=temperature, seed=seed,
            stop=stop, on_tokens=on_tokens,
        )  # fmt: skip
        result.retries += retries
        return result
    text, tracker, finish, usage = streamed
    completion_tokens = (usage.completion_tokens if usage else 0) or len(tracker.pieces)
    engine.generated_tokens += completion_tokens - counted
    engine._count_prompt(usage)
    return CompletionResult(
        # Lone surrogates repaired (and the trial flagged) as on the non-streamed path.
        text=clean_text(text),
        prompt_tokens=(usage.prompt_tokens if usage else 0) or 0,
        completion_tokens=completion_tokens,
        finish_reason=finish,
        request={"endpoint": "completions", "stream": True, **request, **body},
        retries=retries,
        token_bytes=tracker.pieces,
        stream=tracker.state,
    )
