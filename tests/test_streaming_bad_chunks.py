"""A streamed completion whose SSE events are malformed once, from a local HTTP server
speaking the OpenAI completions SSE wire: the bad stream is retried as a bad body (like a
non-streamed body, #17's validation) and the good stream's text, tokens and retry count
come back."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from overthink.engines.base import CompletionResult
from overthink.engines.openai_compat import EngineCallError, OpenAICompatEngine

PIECES = ["Think", "ing ", "done"]

BAD_EVENTS = {
    "truncated json": 'data: {"id":"c","object":"text_completion","choices":[{"index":0,"te\n\n',
    "not an object": 'data: "oops"\n\n',
    "choice without text": 'data: {"id":"c","object":"text_completion","created":0,'
    '"model":"m","choices":[{"index":0,"finish_reason":null}]}\n\n',
}


def _good_events() -> list[str]:
    events = []
    for i, piece in enumerate(PIECES):
        last = i == len(PIECES) - 1
        chunk = {
            "id": "c", "object": "text_completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "text": piece, "finish_reason": "length" if last else None,
                         "logprobs": {"content": [{"id": i, "token": piece, "logprob": -0.1,
                                                   "bytes": list(piece.encode())}]}}],
        }  # fmt: skip
        events.append(f"data: {json.dumps(chunk)}\n\n")
    usage = {"prompt_tokens": 3, "completion_tokens": len(PIECES), "total_tokens": 6}
    tail = {"id": "c", "object": "text_completion", "created": 0, "model": "m",
            "choices": [], "usage": usage}  # fmt: skip
    events.append(f"data: {json.dumps(tail)}\n\ndata: [DONE]\n\n")
    return events


def _serve(bad: str, bad_times: int) -> tuple[ThreadingHTTPServer, list[int]]:
    calls = [0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            calls[0] += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            events = _good_events()
            if calls[0] <= bad_times:
                # One good token, then the malformed event (and nothing after it).
                events = [events[0], bad]
            for event in events:
                self.wfile.write(event.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, calls


@pytest.fixture(params=sorted(BAD_EVENTS))
def flaky_sse(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[int]]]:
    server, calls = _serve(BAD_EVENTS[request.param], bad_times=1)
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", calls
    server.shutdown()
    server.server_close()


def _stream(url: str, max_retries: int, seen: list[int]) -> CompletionResult:
    async def go() -> CompletionResult:
        engine = OpenAICompatEngine(
            "openai-api/m", "m", url, concurrency=1, max_retries=max_retries, backoff_s=0.0
        )
        try:
            return await engine.complete_stream(
                "p", max_tokens=8, temperature=0.0,
                on_tokens=lambda state: seen.append(len(state.pieces)),
            )  # fmt: skip
        finally:
            await engine.aclose()

    return asyncio.run(go())


def test_sse_wire_malformed_chunk_once_is_retried_as_a_bad_body(
    flaky_sse: tuple[str, list[int]],
) -> None:
    url, calls = flaky_sse
    seen: list[int] = []
    result = _stream(url, max_retries=2, seen=seen)
    assert calls[0] == 2
    assert result.retries == 1
    assert result.text == "Thinking done"
    assert result.completion_tokens == 3
    assert result.token_bytes == [b"Think", b"ing ", b"done"]
    # The sink saw the failed attempt's first token, then the retry start over.
    assert seen == [1, 1, 2, 3]


def test_sse_wire_malformed_chunks_every_time_fail_with_the_body_quoted() -> None:
    server, calls = _serve(BAD_EVENTS["not an object"], bad_times=99)
    try:
        with pytest.raises(EngineCallError, match="oops"):
            _stream(f"http://127.0.0.1:{server.server_address[1]}/v1", max_retries=1, seen=[])
    finally:
        server.shutdown()
        server.server_close()
    assert calls[0] == 2
