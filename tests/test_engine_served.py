"""Where a run's time goes (engines.served) and pinned slots on the wire: a local HTTP
server speaking llama.cpp's /v1/completions (with ``timings``) sees ``id_slot`` on every
completion of a pinned engine, the request log notes the server's timings, and records
stay free of the slot (identical whichever slot served them)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from overthink.engines.openai_compat import OpenAICompatEngine
from overthink.engines.served import RequestLog

TIMINGS = {"cache_n": 30, "prompt_n": 10, "prompt_ms": 100.0, "predicted_n": 2,
           "predicted_ms": 50.0}  # fmt: skip


def test_summary_splits_slot_seconds_into_prefill_decode_overhead_and_idle() -> None:
    log = RequestLog()
    # Two slots over 10 s: one request in flight 0-4 s, another 2-10 s.
    log.add("stream", 0.0, 4.0, {**TIMINGS, "prompt_ms": 1000.0, "predicted_ms": 2500.0})
    log.add("complete", 2.0, 10.0, {**TIMINGS, "prompt_ms": 2000.0, "predicted_ms": 5000.0})
    log.add("complete", 3.0, 3.5, None)  # a server without timings: counted as overhead
    summary = log.summary(0.0, 10.0, slots=2)
    assert summary["busy"] == pytest.approx(12.5 / 20)
    assert summary["prefill"] == pytest.approx(3.0 / 20)
    assert summary["decode"] == pytest.approx(7.5 / 20)
    assert summary["overhead"] == pytest.approx(2.0 / 20)
    assert summary["idle"] == pytest.approx(7.5 / 20)
    assert summary["cache_hit"] == pytest.approx(60 / 80)
    assert summary["requests"] == 3


@pytest.fixture()
def llama_wire() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            bodies.append(body)
            out = json.dumps({
                "id": "c", "object": "text_completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "text": " 42", "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42,
                          "prompt_tokens_details": {"cached_tokens": 30}},
                "timings": TIMINGS,
            }).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", bodies
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("pinned", [True, False])
def test_llamacpp_wire_pinned_completions_name_their_slot(
    llama_wire: tuple[str, list[dict[str, Any]]], pinned: bool
) -> None:
    url, bodies = llama_wire

    async def go() -> tuple[RequestLog, list[dict[str, Any]]]:
        engine = OpenAICompatEngine("openai-api/m", "m", url, concurrency=2)
        engine.pin_slots = pinned
        engine.request_log = RequestLog()
        try:
            results = await asyncio.gather(
                *(engine.complete(f"p{i}", max_tokens=4, temperature=0.0) for i in range(3))
            )
        finally:
            await engine.aclose()
        return engine.request_log, [r.request for r in results]

    log, requests = asyncio.run(go())
    slots = [b.get("id_slot") for b in bodies]
    if pinned:
        assert all(s in (0, 1) for s in slots) and len(set(slots)) == 2
        assert sorted(r.slot for r in log.requests if r.slot is not None) == sorted(
            int(s) for s in slots if s is not None
        )
    else:
        assert slots == [None, None, None]
    assert all("id_slot" not in r for r in requests)  # records do not depend on the slot
    assert [(r.prompt_n, r.cache_n, r.predicted_n) for r in log.requests] == [(10, 30, 2)] * 3


def test_deterministic_engines_never_pin() -> None:
    engine = OpenAICompatEngine("openai-api/m", "m", "http://127.0.0.1:9/v1", deterministic=True)
    engine.pin_slots = True
    assert engine.pin_slots is False
    asyncio.run(engine.aclose())
