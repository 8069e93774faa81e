"""`overthink proxy`: the official openai client against the proxy, in front of the
embedded llama.cpp server (chat, completions, streaming, caps, errors passed through) and
in front of a local fake upstream (unreachable upstream, upstream error statuses,
client disconnect cancelling the upstream request, a 64-way concurrent load test)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from overthink.engines.embedded import EmbeddedServer
from overthink.monitor.events import event_from_json
from overthink.proxy import ProxySettings, create_app, parse_policy
from overthink.testing.servers import BackgroundServer, serve_in_thread

FAKE_REPLY = {
    "id": "x", "object": "chat.completion", "created": 0, "model": "fake",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}  # fmt: skip


class FakeUpstream:
    """A tiny OpenAI-wire server: instant replies, chosen error statuses, a slow stream
    that records whether the proxy hung up on it."""

    def __init__(self) -> None:
        self.stream_cancelled = threading.Event()
        self.stream_started = threading.Event()
        self.slow_abandoned = threading.Event()
        self.bodies: list[dict[str, object]] = []

        async def chat(request: Request) -> Response:
            body = await request.json()
            self.bodies.append(body)
            if body.get("model") == "teapot":
                return JSONResponse({"error": {"message": "short and stout", "type": "teapot"}},
                                    status_code=418)  # fmt: skip
            if body.get("model") == "slow":
                # A long non-streaming generation: notice when the caller hangs up.
                for _ in range(600):
                    if await request.is_disconnected():
                        self.slow_abandoned.set()
                        break
                    await asyncio.sleep(0.05)
                return JSONResponse(FAKE_REPLY)
            if body.get("model") == "busy":
                return JSONResponse({"error": {"message": "slow down"}}, status_code=429)
            if body.get("stream"):

                async def slow() -> AsyncIterator[bytes]:
                    self.stream_started.set()
                    try:
                        for i in range(600):
                            chunk = {"choices": [{"index": 0, "delta": {"content": f"{i} "}}]}
                            yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
                            await asyncio.sleep(0.05)
                    except asyncio.CancelledError:
                        self.stream_cancelled.set()
                        raise

                return StreamingResponse(slow(), media_type="text/event-stream")
            return JSONResponse(FAKE_REPLY)

        self.app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[FakeUpstream, BackgroundServer, BackgroundServer]]:
    upstream = FakeUpstream()
    up = serve_in_thread(upstream.app)
    proxy = serve_in_thread(create_app(ProxySettings(upstream=up.url)))
    yield upstream, up, proxy
    proxy.stop()
    up.stop()


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=60)


def test_openai_client_through_proxy_to_local_fake_upstream_errors_pass_through(
    fake: tuple[FakeUpstream, BackgroundServer, BackgroundServer],
) -> None:
    _, _, proxy = fake
    client = _client(proxy.url)
    reply = client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "ok"
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="teapot", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 418 and "short and stout" in str(info.value.body)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="busy", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="fake", messages=[{"role": 7, "content": "x"}])  # type: ignore[misc,list-item]
    assert "messages[0].role" in str(bad.value.body)


def test_native_cap_and_hygiene_reach_the_upstream_request(
    fake: tuple[FakeUpstream, BackgroundServer, BackgroundServer],
) -> None:
    upstream, up, _ = fake
    policy = parse_policy({"cap": {"tokens": 77, "mode": "native"}, "hygiene": ["lexical"]})
    proxy = serve_in_thread(create_app(ProxySettings(upstream=up.url, policy=policy)))
    try:
        question = (
            "You have one apple and one pear. The pear weighs 180 grams. "
            "How many fruits do you have?"
        )
        raw = _client(proxy.url).chat.completions.with_raw_response.create(
            model="fake", messages=[{"role": "user", "content": question}]
        )
        sent = upstream.bodies[-1]
        assert sent["thinking_token_budget"] == 77  # vLLM's native thinking budget
        content = sent["messages"][0]["content"]  # type: ignore[index]
        assert "180 grams" not in content and "You have one apple" in content
        assert raw.headers["x-overthink-budget"] == "77"
        assert raw.headers["x-overthink-exit-reason"] == "native"
        assert raw.headers["x-overthink-hygiene-removed"] == "1"
    finally:
        proxy.stop()


def test_unreachable_upstream_is_a_502_with_an_openai_error_body() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed once the block ends
    proxy = serve_in_thread(create_app(ProxySettings(upstream=dead)))
    try:
        client = _client(proxy.url)
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert info.value.status_code == 502
        body = info.value.body
        assert isinstance(body, dict) and body.get("type") == "upstream_unreachable"
    finally:
        proxy.stop()


def test_client_disconnect_cancels_the_upstream_stream(
    fake: tuple[FakeUpstream, BackgroundServer, BackgroundServer],
) -> None:
    upstream, _, proxy = fake
    client = _client(proxy.url)
    stream = client.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "long"}], stream=True
    )
    first = next(iter(stream))
    assert first.choices[0].delta.content == "0 "
    assert upstream.stream_started.is_set()
    stream.close()  # the client hangs up after one chunk of a 30 s stream
    assert upstream.stream_cancelled.wait(10.0), "upstream kept streaming after the disconnect"


def test_client_disconnect_cancels_a_non_streaming_upstream_request(
    fake: tuple[FakeUpstream, BackgroundServer, BackgroundServer],
) -> None:
    upstream, _, proxy = fake
    body = {"model": "slow", "messages": [{"role": "user", "content": "think hard"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(proxy.url + "/v1/chat/completions", json=body, timeout=1.0)
    assert upstream.slow_abandoned.wait(10.0), "upstream kept working after the disconnect"


def test_load_64_concurrent_clients_zero_errors(
    fake: tuple[FakeUpstream, BackgroundServer, BackgroundServer],
) -> None:
    _, _, proxy = fake
    total, concurrency = 256, 64

    async def go() -> list[int]:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=proxy.url, limits=limits, timeout=60) as http:
            gate = asyncio.Semaphore(concurrency)
            body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}

            async def one() -> int:
                async with gate:
                    resp = await http.post("/v1/chat/completions", json=body)
                    return resp.status_code

            return await asyncio.gather(*(one() for _ in range(total)))

    statuses = asyncio.run(go())
    assert statuses.count(200) == total


POLICY = {
    "cap": {"tokens": 24},
    "answer_tokens": 12,
    "experiment": {"fraction": 0.5, "tiers": {"low": 8, "high": 16}},
    "routes": [{"match": {"route": "completions"}, "cap": None, "experiment": None}],
}


@pytest.fixture(scope="module")
def embedded_proxy(
    embedded_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BackgroundServer, Path]]:
    events = tmp_path_factory.mktemp("proxy") / "events.jsonl"
    settings = ProxySettings(upstream=embedded_server.address, policy=parse_policy(POLICY),
                             events=events)  # fmt: skip
    proxy = serve_in_thread(create_app(settings))
    yield proxy, events
    proxy.stop()


@pytest.mark.engine
def test_openai_client_through_proxy_in_front_of_the_embedded_server(
    embedded_proxy: tuple[BackgroundServer, Path],
) -> None:
    proxy, events = embedded_proxy
    client = _client(proxy.url)
    question: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "You have one apple and one pear. How many fruits?"}
    ]
    budgets = []
    for i in range(6):
        raw = client.chat.completions.with_raw_response.create(
            model="embedded", messages=question, temperature=0, extra_headers={
                "x-request-id": f"req-{i}"},
        )  # fmt: skip
        reply = raw.parse()
        budget = int(raw.headers["x-overthink-budget"])
        thinking = int(raw.headers["x-overthink-thinking-tokens"])
        budgets.append((raw.headers["x-overthink-assignment"], budget))
        # The cap (or the drawn tier) is never exceeded, through the proxy too.
        assert 0 <= thinking <= budget
        assert reply.usage is not None and reply.usage.completion_tokens_details is not None
        assert reply.usage.completion_tokens_details.reasoning_tokens == thinking
        assert raw.headers["x-overthink-exit-reason"] in ("cap", "natural")
        assert reply.choices[0].message.content is not None
    assert {a for a, _ in budgets} <= {"random", "policy"}
    assert all(b == 24 for a, b in budgets if a == "policy")
    assert all(b in (8, 16) for a, b in budgets if a == "random")
    # A per-request override through extra_body.
    raw = client.chat.completions.with_raw_response.create(
        model="embedded", messages=question, temperature=0, extra_body={"overthink": {"budget": 4}}
    )
    assert (
        raw.headers["x-overthink-budget"] == "4"
        and raw.headers["x-overthink-budget-source"] == "override"
    )
    assert int(raw.headers["x-overthink-thinking-tokens"]) <= 4
    # Streaming through the forced path: reasoning, then the answer, then usage.
    chunks = list(client.chat.completions.create(
        model="embedded", messages=question, temperature=0, stream=True,
        extra_body={"overthink": {"budget": 8}}))  # fmt: skip
    assert chunks and chunks[-1].usage is not None
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # Completions pass through (the route override switches the cap off), streamed too.
    text = client.completions.create(model="embedded", prompt="One, two, three,", max_tokens=6,
                                     temperature=0)  # fmt: skip
    assert text.choices[0].text
    pieces = list(client.completions.create(model="embedded", prompt="One, two, three,",
                                            max_tokens=6, temperature=0, stream=True))  # fmt: skip
    assert "".join(p.choices[0].text for p in pieces if p.choices)
    # An upstream error (llama.cpp rejects the field) passes through with its status.
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model="embedded", prompt="x", max_tokens=4,
                                  extra_body={"n_probs": "many"})  # fmt: skip
    assert info.value.status_code == 400
    # One monitor event per request, and Prometheus counters.
    lines = events.read_text().splitlines()
    assert len(lines) == 11  # 6 + override + stream + completion + stream + error
    parsed = [event_from_json(line) for line in lines]
    assert {e.request_id for e in parsed} >= {f"req-{i}" for i in range(6)}
    assert all("otel" in json.loads(line) for line in lines)
    metrics = httpx.get(proxy.url + "/metrics").text
    assert (
        'overthink_proxy_requests_total{assignment="policy",model="embedded",route="chat",status="200"}'
        in metrics
    )


@pytest.mark.engine
def test_early_exit_through_the_proxy_never_passes_the_cap(embedded_server: EmbeddedServer) -> None:
    policy = parse_policy({"cap": {"tokens": 40}, "early_exit": {"chunk": 8, "k": 2,
                                                                "probe_tokens": 6}})  # fmt: skip
    proxy = serve_in_thread(create_app(ProxySettings(upstream=embedded_server.address,
                                                     policy=policy)))  # fmt: skip
    try:
        raw = _client(proxy.url).chat.completions.with_raw_response.create(
            model="embedded", temperature=0,
            messages=[{"role": "user", "content": "Name a colour of the sky. Think first."}],
        )  # fmt: skip
        thinking = int(raw.headers["x-overthink-thinking-tokens"])
        reason = raw.headers["x-overthink-exit-reason"]
        assert thinking <= 40 and reason in ("early_exit", "cap", "natural")
        if reason == "early_exit":
            assert thinking >= 8 and int(raw.headers["x-overthink-probe-tokens"]) > 0
        started = time.perf_counter()
        assert httpx.get(proxy.url + "/health").status_code == 200
        assert time.perf_counter() - started < 5
    finally:
        proxy.stop()


def _busy_slots(server: EmbeddedServer) -> int:
    slots = httpx.get(server.address + "/slots", timeout=5).json()
    return sum(bool(s.get("is_processing")) for s in slots)


def _wait_idle(server: EmbeddedServer, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _busy_slots(server) == 0:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.engine
def test_disconnect_through_proxy_stops_the_embedded_server_generating(
    embedded_server: EmbeddedServer, embedded_proxy: tuple[BackgroundServer, Path]
) -> None:
    proxy, _ = embedded_proxy
    assert _wait_idle(embedded_server)
    # A pass-through stream of up to 2000 tokens, abandoned after the first chunk.
    # ignore_eos (llama.cpp): the generation cannot end on its own before the hang-up.
    stream = _client(proxy.url).completions.create(
        model="embedded", prompt="Write a very long story about a dragon.", max_tokens=2000,
        temperature=0.8, stream=True, extra_body={"ignore_eos": True},
    )  # fmt: skip
    next(iter(stream))
    assert _busy_slots(embedded_server) >= 1
    stream.close()
    assert _wait_idle(embedded_server), "llama.cpp kept generating after the client left"
    # The forced path (a 1500-token thinking budget), abandoned by a client timeout.
    impatient = openai.OpenAI(base_url=proxy.url + "/v1", api_key="none", max_retries=0,
                              timeout=3.0)  # fmt: skip
    with pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(
            model="embedded", temperature=0.8, extra_body={"overthink": {"budget": 1500}},
            messages=[{"role": "user", "content": "Think at length about dragons."}],
        )  # fmt: skip
    assert _wait_idle(embedded_server), "llama.cpp kept thinking after the client left"
