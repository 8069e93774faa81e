"""The raw ``/v1/completions`` endpoint (llama.cpp, vLLM), spoken with httpx directly.

A forced budget sweep, the default run, calls only this endpoint, and what it reads there
are the servers' own additions to the OpenAI wire format: per-token ``bytes`` and ids in
``logprobs.content``, ``timings``, ``id_slot``. The ``openai`` SDK passes those through
untyped, and importing it costs about 0.4 s, most of the time from ``overthink run`` to
its first request. So this path needs no SDK; chat calls still go through it.

Bodies are checked as strictly as :mod:`overthink.engines.bodies` checks the SDK's: a
body or event that is not a completion raises ``BadResponse`` (retried), an HTTP error
status raises ``ServerStatus`` (retried for 408/409/429/5xx, else failed at once).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from overthink.engines.bodies import bad_json, snippet
from overthink.engines.retry import BadResponse, ServerStatus

__all__ = [
    "COMPLETIONS_PATH",
    "CompletionStream",
    "Usage",
    "checked_choices",
    "finish_reason",
    "open_completion_stream",
    "post_completion",
    "token_entries",
    "token_logprobs",
]

COMPLETIONS_PATH = "/v1/completions"
"""Relative to the server's root URL (the engine's ``base_url`` without ``/v1``)."""


@dataclass(frozen=True)
class Usage:
    """Token counts of one completion, as the server reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens served from the server's prompt cache (``prompt_tokens_details``)."""

    @classmethod
    def of(cls, data: object) -> Usage | None:
        """The ``usage`` object of a body or event, or None when it carries none."""
        if not isinstance(data, Mapping):
            return None
        details = data.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
        return cls(_count(data.get("prompt_tokens")), _count(data.get("completion_tokens")),
                   _count(cached))  # fmt: skip


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def checked_choices(data: object, source: str, *, empty_ok: bool) -> list[dict[str, Any]]:
    """The ``choices`` of a completion body or stream event, each with a ``text`` string.

    An event may have no choices (the closing usage event); a body must have one. Anything
    else is a ``BadResponse`` quoting what came.
    """
    if not isinstance(data, dict):
        raise BadResponse(f"{source} sent a response that is not a completion: {snippet(data)}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not (choices or empty_ok):
        if "error" in data:
            raise BadResponse(f"{source} sent an error: {snippet(json.dumps(data['error']))}")
        what = "no choices" if isinstance(choices, list) else "not a completion"
        raise BadResponse(f"{source} sent a response with {what}: {snippet(json.dumps(data))}")
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("text"), str):
            raise BadResponse(f"{source} sent a choice without text: {snippet(json.dumps(data))}")
    return choices


def finish_reason(choice: Mapping[str, Any]) -> str | None:
    """A choice's ``finish_reason`` (None while a stream is still going)."""
    reason = choice.get("finish_reason")
    return reason if isinstance(reason, str) else None


def token_entries(logprobs: object) -> list[tuple[bytes, int | None]]:
    """(bytes, id) of each token in a choice's ``logprobs``, in either wire shape.

    llama.cpp sends ``content: [{id, token, bytes, logprob}]``; vLLM and OpenAI's legacy
    shape send ``tokens: [str]`` without ids.
    """
    if not isinstance(logprobs, Mapping):
        return []
    content = logprobs.get("content")
    if isinstance(content, list):
        out: list[tuple[bytes, int | None]] = []
        for item in content:
            if not isinstance(item, Mapping):
                continue
            raw = item.get("bytes")
            piece = bytes(raw) if isinstance(raw, list) else str(item.get("token", "")).encode()
            token_id = item.get("id")
            out.append((piece, token_id if isinstance(token_id, int) else None))
        return out
    tokens = logprobs.get("tokens")
    return [(str(t).encode(), None) for t in tokens] if isinstance(tokens, list) else []


def token_logprobs(logprobs: object) -> list[float] | None:
    """Per-token log-probabilities of a choice (either wire shape), or None if any is
    missing."""
    if not isinstance(logprobs, Mapping):
        return None
    content = logprobs.get("content")
    values = (
        [item.get("logprob") if isinstance(item, Mapping) else None for item in content]
        if isinstance(content, list)
        else logprobs.get("token_logprobs")
    )
    if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
        return None
    return [float(v) for v in values]


def _error_text(body: bytes) -> str:
    """The server's own words from an error body (``{"error": {"message": …}}`` and the
    like), else a quote of the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return snippet(body)
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        error = error.get("message", error)
    return error if isinstance(error, str) else snippet(json.dumps(error))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the retry loop's own backoff applies


async def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    body = await response.aread()
    raise ServerStatus(_error_text(body), response.status_code, _retry_after(response))


def _parse(text: bytes | str, source: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_json(exc, source) from None
    except ValueError as exc:  # undecodable bytes
        raise BadResponse(f"{source} sent a body that is not valid JSON ({exc}): "
                          f"{snippet(text)}") from None  # fmt: skip


async def post_completion(
    http: httpx.AsyncClient, body: Mapping[str, Any], source: str
) -> dict[str, Any]:
    """POST one non-streamed completion; the body, checked to hold a usable choice."""
    response = await http.post(COMPLETIONS_PATH, json=body)
    await _raise_for_status(response)
    data = _parse(response.content, source)
    checked_choices(data, source, empty_ok=False)
    assert isinstance(data, dict)  # checked_choices raised otherwise
    return data


_SSE_FIELDS = frozenset({"data", "event", "id", "retry"})


class CompletionStream:
    """The events of one streamed completion, each a checked JSON object.

    A server that ignored ``stream`` (or a proxy that buffered the stream and relabelled
    it) sends one plain JSON body instead: it is recognised by its first byte, not its
    ``Content-Type``, checked like ``post_completion``'s and left in ``plain`` once the
    iteration (which then yields nothing) ends.
    """

    def __init__(self, response: httpx.Response, source: str) -> None:
        self._response = response
        self._source = source
        self.plain: dict[str, Any] | None = None
        self.done = False
        """The stream's closing ``data: [DONE]`` arrived."""

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        data: list[str] = []
        lines = self._response.aiter_lines()
        async for line in lines:
            if not data and line.lstrip().startswith("{"):
                rest = [line] + [more async for more in lines]
                self.plain = self._body("\n".join(rest))
                return
            if line:
                field, _, value = line.partition(":")
                if field == "data":
                    data.append(value.removeprefix(" "))
                elif field == "error":  # llama.cpp reports a failure mid-stream this way
                    raise BadResponse(f"{self._source} sent an error event: {snippet(value)}")
                elif field and field not in _SSE_FIELDS:
                    # Not SSE at all (an HTML error page, garbage): a bad body, retried.
                    raise BadResponse(f"{self._source} sent a stream that is not "
                                      f"server-sent events: {snippet(line)}")  # fmt: skip
                continue  # comments (":…") and event/id/retry carry nothing for us
            if data:
                payload, data = "\n".join(data), []
                if payload.strip() == "[DONE]":
                    self.done = True
                    return
                yield self._event(payload)
        if data and "\n".join(data).strip() == "[DONE]":
            self.done = True
        elif data:
            yield self._event("\n".join(data))  # a last event without its blank line

    def _event(self, payload: str) -> dict[str, Any]:
        event = _parse(payload, self._source)
        checked_choices(event, self._source, empty_ok=True)
        assert isinstance(event, dict)
        return event

    def _body(self, text: str) -> dict[str, Any]:
        body = _parse(text, self._source)
        checked_choices(body, self._source, empty_ok=False)
        assert isinstance(body, dict)
        return body


@asynccontextmanager
async def open_completion_stream(
    http: httpx.AsyncClient, body: Mapping[str, Any], source: str
) -> AsyncIterator[CompletionStream]:
    """POST a streamed completion; the connection is released when the block ends."""
    request = http.build_request("POST", COMPLETIONS_PATH, json={**body, "stream": True})
    response = await http.send(request, stream=True)
    try:
        await _raise_for_status(response)
        yield CompletionStream(response, source)
    finally:
        await response.aclose()
