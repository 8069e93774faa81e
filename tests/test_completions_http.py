"""The raw ``/v1/completions`` path without the openai SDK, against a local HTTP server
speaking llama.cpp's completions wire (plain bodies and server-sent events): what counts
as a stream, a plain body, garbage, a truncated stream or an error status, and that a
forced completion never imports the SDK."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from overthink.engines.base import CompletionResult
from overthink.engines.embedded import EmbeddedServer
from overthink.engines.openai_compat import EngineCallError, OpenAICompatEngine

Reply = Callable[[int, dict[str, object]], tuple[int, dict[str, str], bytes]]
"""(call number, request body) → (status, headers, body bytes)."""


def _token(i: int, piece: str, finish: str | None = None) -> str:
    chunk = {
        "choices": [{"index": 0, "text": piece, "finish_reason": finish,
                     "logprobs": {"content": [{"id": i, "token": piece, "logprob": -0.5,
                                               "bytes": list(piece.encode())}]}}],
    }  # fmt: skip
    return f"data: {json.dumps(chunk)}\n\n"


USAGE = {"prompt_tokens": 5, "completion_tokens": 2,
         "prompt_tokens_details": {"cached_tokens": 3}}  # fmt: skip
GOOD_STREAM = (
    ": a comment line, ignored\n\n"
    + _token(7, "Hel")
    + _token(8, "lo", "length")
    + f"data: {json.dumps({'choices': [], 'usage': USAGE, 'timings': {'prompt_n': 2}})}\n\n"
    + "data: [DONE]\n\n"
)
PLAIN = {
    "choices": [{"index": 0, "text": "Hello", "finish_reason": "stop",
                 "logprobs": {"content": [{"id": 7, "token": "Hel", "bytes": [72, 101, 108],
                                           "logprob": -0.1},
                                          {"id": 8, "token": "lo", "bytes": [108, 111],
                                           "logprob": -0.2}]}}],
    "usage": USAGE,
}  # fmt: skip
SSE = {"Content-Type": "text/event-stream"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def wire() -> Iterator[tuple[list[Reply], list[dict[str, object]], str]]:
    """A server whose n-th POST is answered by ``replies[min(n, len - 1)]``."""
    replies: list[Reply] = []
    seen: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            seen.append(body)
            status, headers, out = replies[min(len(seen), len(replies)) - 1](len(seen), body)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield replies, seen, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _fixed(status: int, headers: dict[str, str], body: str | bytes) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    return lambda n, request: (status, headers, data)


def _run(
    url: str, *, stream: bool, retries: int = 2
) -> tuple[CompletionResult, OpenAICompatEngine]:
    async def go() -> tuple[CompletionResult, OpenAICompatEngine]:
        engine = OpenAICompatEngine("openai-api/m", "m", url, concurrency=1,
                                    max_retries=retries, backoff_s=0.0)  # fmt: skip
        try:
            if stream:
                result = await engine.complete_stream("p", max_tokens=4, temperature=0.0)
            else:
                result = await engine.complete("p", max_tokens=4, temperature=0.0,
                                               want_tokens=True)  # fmt: skip
            return result, engine
        finally:
            await engine.aclose()

    return asyncio.run(go())


def test_llamacpp_wire_stream_tokens_usage_and_cache_counts(
    wire: tuple[list[Reply], list[dict[str, object]], str],
) -> None:
    replies, seen, url = wire
    replies.append(_fixed(200, SSE, GOOD_STREAM))
    result, engine = _run(url, stream=True)
    assert result.text == "Hello" and result.finish_reason == "length"
    assert result.token_bytes == [b"Hel", b"lo"] and result.retries == 0
    assert result.stream is not None and result.stream.ids == [7, 8]
    assert (result.prompt_tokens, result.completion_tokens) == (5, 2)
    assert (engine.prompt_tokens_seen, engine.prompt_tokens_cached) == (5, 3)
    assert engine.generated_tokens == 2
    sent = seen[0]
    assert sent["stream"] is True and sent["logprobs"] == 1 and sent["prompt"] == "p"
    assert sent["stream_options"] == {"include_usage": True}
    assert engine._sdk is None


def test_llamacpp_wire_plain_completion_with_token_bytes_and_logprobs(
    wire: tuple[list[Reply], list[dict[str, object]], str],
) -> None:
    replies, seen, url = wire
    replies.append(_fixed(200, JSON, json.dumps(PLAIN)))
    result, engine = _run(url, stream=False)
    assert result.text == "Hello" and result.finish_reason == "stop"
    assert result.token_bytes == [b"Hel", b"lo"] and result.token_logprobs == [-0.1, -0.2]
    assert "stream" not in seen[0] and engine.prompt_tokens_cached == 3


def test_llamacpp_wire_stream_request_answered_with_one_plain_body_needs_one_request(
    wire: tuple[list[Reply], list[dict[str, object]], str],
) -> None:
    """A server (or a buffering proxy) that ignores ``stream``: its body is used as is,
    whatever its Content-Type says, and the last token has no confirmed successor."""
    replies, seen, url = wire
    replies.append(_fixed(200, SSE, json.dumps(PLAIN)))
    told: list[int] = []

    async def go() -> CompletionResult:
        engine = OpenAICompatEngine("openai-api/m", "m", url, concurrency=1)
        try:
            return await engine.complete_stream(
                "p", max_tokens=4, temperature=0.0, on_tokens=lambda s: told.append(len(s.pieces))
            )
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    assert result.text == "Hello" and result.token_bytes == [b"Hel", b"lo"]
    assert result.stream is not None and result.stream.exact == 1
    assert len(seen) == 1
    # Not streamed, so the sink hears nothing: the sweep settles such cuts after the
    # trace, each charged its share of the trace's time (not all of it).
    assert told == []


@pytest.mark.parametrize(
    ("bad", "quoted"),
    [
        ("<html>\x00 proxy exploded</html>", "not server-sent events"),
        (_token(7, "Hel"), "without a finish_reason or [DONE]"),  # cut between events
        (_token(7, "Hel") + 'data: {"choices": [{"index": 0, "te', "not valid JSON"),
        ('error: {"code": 500, "message": "context full"}\n\n', "context full"),
        ('data: {"choices": [{"index": 0}]}\n\n', "choice without text"),
        ('data: "oops"\n\n', "not a completion"),
    ],
)
def test_llamacpp_wire_bad_stream_is_retried_then_quoted(
    wire: tuple[list[Reply], list[dict[str, object]], str], bad: str, quoted: str
) -> None:
    replies, seen, url = wire
    replies.append(_fixed(200, SSE, bad))
    replies.append(_fixed(200, SSE, GOOD_STREAM))
    result, _ = _run(url, stream=True)
    assert result.text == "Hello" and result.retries == 1 and len(seen) == 2
    replies.clear()
    replies.append(_fixed(200, SSE, bad))
    with pytest.raises(EngineCallError, match="BadResponse after 2 retries") as info:
        _run(url, stream=True)
    assert quoted in str(info.value)


def test_llamacpp_wire_error_statuses_retry_or_fail_at_once(
    wire: tuple[list[Reply], list[dict[str, object]], str],
) -> None:
    replies, seen, url = wire
    replies.append(_fixed(503, JSON, '{"error": {"message": "loading model"}}'))
    replies.append(_fixed(200, JSON, json.dumps(PLAIN)))
    result, _ = _run(url, stream=False)
    assert result.retries == 1
    replies.clear()
    seen.clear()
    replies.append(_fixed(400, JSON, '{"error": {"code": 400, "message": "n_probs too big"}}'))
    for stream in (False, True):
        with pytest.raises(EngineCallError, match="HTTP 400 from openai-api/m: n_probs too big"):
            _run(url, stream=stream)
    assert len(seen) == 2  # one request each, no retry
    replies.clear()
    replies.append(_fixed(500, {}, "<html>down</html>"))
    with pytest.raises(EngineCallError, match="after 2 retries: '<html>down</html>'") as info:
        _run(url, stream=True)
    assert info.value.status_code == 500


def test_a_forced_completion_on_the_embedded_server_never_imports_the_openai_sdk(
    embedded_server: EmbeddedServer,
) -> None:
    """The point of the plain path: ``overthink run``'s default sweep starts without the
    SDK's ~0.4 s import. A chat call afterwards loads it and still works."""
    code = f"""
import asyncio, sys
from overthink.engines.openai_compat import OpenAICompatEngine
async def main():
    engine = OpenAICompatEngine("openai-api/s", "s", {embedded_server.address!r})
    prompt = await engine.render_chat([{{"role": "user", "content": "Say hi."}}])
    done = await engine.complete_stream(prompt, max_tokens=4, temperature=0.0)
    plain = await engine.complete(prompt, max_tokens=4, temperature=0.0)
    before = "openai" in sys.modules
    chat = await engine.chat([{{"role": "user", "content": "Say hi."}}], max_tokens=4,
                             temperature=0.0)
    await engine.aclose()
    print(before, done.completion_tokens, plain.completion_tokens, bool(chat.text),
          "openai" in sys.modules)
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()  # fmt: skip
    assert out == ["False", "4", "4", "True", "True"]


def test_a_forced_run_without_report_loads_neither_the_openai_sdk_nor_matplotlib(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    """What stands between ``overthink run`` and its first request, and between its last
    answer and its exit: a forced sweep needs no SDK, a terminal summary no plotting."""
    code = (
        "import sys\n"
        "from overthink.cli import main\n"
        f"sys.argv = ['overthink', 'run', '--model', 'openai-api/smol', '--base-url', "
        f"{embedded_server.address + '/v1'!r}, '--samples', '1', '--budgets', '0,8', "
        f"'--out', {str(tmp_path / 'run')!r}, '--no-report']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
        "print('EXIT', code, 'LOADED', [m for m in ('openai', 'matplotlib') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True)  # fmt: skip
    assert "EXIT 0 LOADED []" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert (tmp_path / "run").is_dir()
