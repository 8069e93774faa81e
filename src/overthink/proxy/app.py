"""The OpenAI-compatible policy proxy: a Starlette app in front of any upstream.

``POST /v1/chat/completions`` and ``POST /v1/completions`` (streaming included),
``GET /v1/models`` (forwarded), ``GET /metrics`` (Prometheus) and ``GET /health``.

Each request is validated (a malformed one is a 400 naming the field), its policy rule
resolved (route and model), hygiene applied, and its budget decided: the request's own
``extra_body`` override, else the experiment slice, else the router, else the cap. With
no budget the request is forwarded as it is (streams relayed chunk by chunk). With a
``forced`` budget the thinking is done through the engine layer — the same s1 forcing
(``reasoning.forcing``) and early-exit loop (``mitigate.early_exit``) that ``overthink
run`` and ``overthink mitigate`` use — and the answer is generated after the closed
thinking segment; a ``native`` cap adds the upstream's own parameter and forwards.

Upstream errors pass through with their status and body; an unreachable upstream is a
502 with an OpenAI-style error body; a client disconnect cancels the upstream request.
Every response carries ``x-overthink-*`` headers and every request one monitor event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from overthink.engines.openai_compat import OpenAICompatEngine
from overthink.engines.retry import EngineCallError
from overthink.mitigate.early_exit import think_with_early_exit
from overthink.mitigate.hygiene import clean_lexical, clean_rules
from overthink.monitor.events import MonitorEvent
from overthink.monitor.proxies import compute_proxies
from overthink.proxy.policy import Policy, Rule
from overthink.proxy.requests import BadRequest, ParsedRequest, parse_request
from overthink.proxy.telemetry import EventSink, ProxyMetrics
from overthink.reasoning.forcing import ForcedTrace, force_thinking, thinking_prefix
from overthink.tasks.extract import answer_key

__all__ = ["Decision", "ProxySettings", "create_app", "error_body"]

T = TypeVar("T")
log = logging.getLogger("overthink.proxy")
HEADER = "x-overthink-"
# Covariates kept on every event: cheap, and what the monitor's observational slope uses.
_EVENT_PROXIES = ("chars", "numbers", "urls", "code_blocks", "quoted_passages")


@dataclass
class ProxySettings:
    """How the proxy runs."""

    upstream: str
    """Upstream base URL (``http://host:port`` or ``.../v1``)."""
    policy: Policy = field(default_factory=Policy)
    events: Path | None = None
    """JSONL file receiving one monitor event per request (None: not written)."""
    timeout_s: float = 600.0
    api_key: str | None = None
    """Sent upstream as a bearer token when set (the client's own header is forwarded
    otherwise)."""


Assignment = Literal["random", "policy", "none"]


@dataclass
class Decision:
    """What the policy decided for one request."""

    budget: int | None = None
    """Reasoning budget (None: pass through; -1: natural)."""
    source: str = "none"
    """override, experiment, router, cap or none."""
    tier: str | None = None
    assignment: Assignment = "none"
    assignment_prob: float | None = None
    early_exit: bool = False
    mode: str = "forced"
    hygiene: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What the request produced, for headers, events and metrics."""

    status: int = 200
    reasoning_tokens: int = 0
    output_tokens: int = 0
    prompt_tokens: int | None = None
    finish_reason: str | None = None
    exit_reason: str = "none"
    probe_tokens: int = 0
    truncated: bool = False
    removed: int = 0


def error_body(message: str, *, kind: str, code: int | str | None = None,
               param: str | None = None) -> dict[str, Any]:  # fmt: skip
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class ClientGone(Exception):
    """The client disconnected before the response was ready."""


async def run_or_cancel(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it (and its upstream calls) if the client disconnects."""
    task: asyncio.Task[T] = asyncio.ensure_future(work)

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                return

    watcher = asyncio.ensure_future(watch())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        watcher.cancel()
        raise
    if task in done:
        watcher.cancel()
        return task.result()
    task.cancel()
    raise ClientGone()


class ProxyState:
    """Shared clients, engines, metrics and the event sink of one app."""

    def __init__(self, settings: ProxySettings) -> None:
        self.settings = settings
        root = settings.upstream.rstrip("/")
        self.root = root[: -len("/v1")] if root.endswith("/v1") else root
        # Idle upstream connections are dropped before a typical server's 5 s keep-alive
        # timeout, so a request never goes out on a socket the upstream is closing.
        limits = httpx.Limits(
            max_connections=512, max_keepalive_connections=128, keepalive_expiry=2.0
        )
        # TCP_NODELAY: headers and body go out as separate writes; with Nagle's algorithm
        # the body waits for the delayed ACK of the headers (~40 ms per request).
        transport = httpx.AsyncHTTPTransport(
            limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        self.http = httpx.AsyncClient(
            base_url=self.root, timeout=httpx.Timeout(settings.timeout_s, connect=5.0),
            transport=transport,
        )  # fmt: skip
        self.engines: dict[str, OpenAICompatEngine] = {}
        self.metrics = ProxyMetrics()
        self.sink = EventSink(settings.events)

    async def engine(self, model: str) -> OpenAICompatEngine:
        """The engine for ``model`` on the upstream (markers read from its template)."""
        engine = self.engines.get(model)
        if engine is None:
            # No retries: the proxy passes upstream errors through; the client retries.
            engine = OpenAICompatEngine(
                model, model, self.root, api_key=self.settings.api_key or "none",
                concurrency=256, max_retries=0, timeout_s=self.settings.timeout_s,
            )  # fmt: skip
            await engine.detect_markers()
            self.engines[model] = engine
        return engine

    async def aclose(self) -> None:
        """Close clients and the sink."""
        await self.http.aclose()
        for engine in self.engines.values():
            await engine.aclose()
        self.sink.close()


async def chunked_thinking(
    engine: OpenAICompatEngine,
    prefix: str,
    *,
    cap: int,
    chunk: int,
    temperature: float,
    seed: int | None,
) -> ForcedTrace:
    """s1 forcing (``force_thinking``) requested in pieces of at most ``chunk`` tokens.

    Each piece continues the text so far; the trace stops at the cap or when the model
    ends its thinking. Cancelling the caller stops the upstream work within one piece.
    """
    trace = ForcedTrace(prefix=prefix)
    while trace.tokens < cap:
        piece = await force_thinking(
            engine, prefix + trace.reasoning, cap=min(chunk, cap - trace.tokens),
            temperature=temperature, seed=seed,
        )  # fmt: skip
        if not trace.requests:
            trace.prompt_tokens = piece.prompt_tokens
        trace.requests.extend(piece.requests)
        trace.retries += piece.retries
        trace.reasoning += piece.reasoning
        trace.tokens += piece.tokens
        if not piece.hit_cap or piece.tokens == 0:
            return trace  # the model closed its thinking (or produced nothing)
    trace.hit_cap = True
    return trace


def decide(rule: Rule, parsed: ParsedRequest, request_id: str) -> Decision:
    """The budget and mitigations for one request (see the module docstring)."""
    over = parsed.overrides
    decision = Decision(hygiene=list(over.hygiene if over.hygiene is not None else rule.hygiene))
    if rule.cap is not None:
        decision.mode = rule.cap.mode
    if over.budget is not None:
        decision.budget, decision.source, decision.assignment = over.budget, "override", "policy"
    elif (
        rule.experiment is not None
        and (drawn := rule.experiment.assigner().assign(request_id)) is not None
    ):
        decision.budget, decision.source = drawn.budget_tokens, "experiment"
        decision.tier, decision.assignment = drawn.tier, "random"
        decision.assignment_prob = drawn.assignment_prob
    elif rule.router is not None:
        decision.budget = rule.router.budget_for(parsed.text, over.task)
        decision.source, decision.assignment = "router", "policy"
    elif rule.cap is not None:
        decision.budget, decision.source, decision.assignment = rule.cap.tokens, "cap", "policy"
    if decision.budget == -1:
        decision.budget = None  # natural: no cap, forwarded as it is
    want_exit = rule.early_exit is not None if over.early_exit is None else over.early_exit
    decision.early_exit = bool(want_exit and rule.early_exit is not None and decision.budget)
    return decision


def _clean(parsed: ParsedRequest, how: list[str]) -> int:
    """Apply the cleaners to the request's text in place; returns pieces removed."""
    if not how:
        return 0
    text = parsed.text
    removed = 0
    for name in how:
        cleaned = clean_rules(text) if name == "rules" else clean_lexical(text)
        removed += len(cleaned.removed)
        text = cleaned.prompt
    if removed:
        if parsed.route == "completions":
            parsed.body["prompt"] = text
        else:
            messages = [dict(m) for m in parsed.body["messages"]]
            for m in reversed(messages):
                if m.get("role") == "user":
                    m["content"] = text
                    break
            parsed.body["messages"] = messages
    return removed


def _headers(request_id: str, decision: Decision, outcome: Outcome | None) -> dict[str, str]:
    h = {
        f"{HEADER}request-id": request_id,
        f"{HEADER}budget": "none" if decision.budget is None else str(decision.budget),
        f"{HEADER}budget-source": decision.source,
        f"{HEADER}assignment": decision.assignment,
    }
    if decision.tier is not None:
        h[f"{HEADER}budget-tier"] = decision.tier
    if outcome is not None:
        h[f"{HEADER}thinking-tokens"] = str(outcome.reasoning_tokens)
        h[f"{HEADER}exit-reason"] = outcome.exit_reason
        h[f"{HEADER}probe-tokens"] = str(outcome.probe_tokens)
        h[f"{HEADER}hygiene-removed"] = str(outcome.removed)
    return h


def _usage_facts(data: dict[str, Any], outcome: Outcome) -> None:
    usage = data.get("usage") or {}
    if isinstance(usage, dict):
        outcome.prompt_tokens = usage.get("prompt_tokens", outcome.prompt_tokens)
        details = usage.get("completion_tokens_details") or {}
        reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
        completion = usage.get("completion_tokens")
        if isinstance(reasoning, int):
            outcome.reasoning_tokens = reasoning
        if isinstance(completion, int):
            outcome.output_tokens = max(0, completion - outcome.reasoning_tokens)
    choices = data.get("choices") or []
    if choices and isinstance(choices[0], dict) and choices[0].get("finish_reason"):
        outcome.finish_reason = str(choices[0]["finish_reason"])


def _sse_usage_facts(tail: bytes, outcome: Outcome) -> None:
    """Usage and finish reason from the last events of a relayed SSE stream."""
    for line in tail.split(b"\n"):
        if line.startswith(b"data: {"):
            try:
                _usage_facts(json.loads(line[6:]), outcome)
            except ValueError:
                continue


# The factory's own body is a few lines; mccabe adds in every route handler it defines
# (each closes over the app's state and is measured on its own too), hence the noqa.
def create_app(settings: ProxySettings) -> Starlette:  # noqa: C901
    """The proxy as an ASGI app (run it with uvicorn)."""
    state = ProxyState(settings)

    def finish(
        route: str, model: str, request_id: str, decision: Decision, outcome: Outcome,
        started: float, text: str,
    ) -> None:  # fmt: skip
        try:
            covariates = compute_proxies(text, _EVENT_PROXIES)
        except Exception:  # a user-registered proxy must not break the request path
            covariates = {}
        event = MonitorEvent(
            ts=time.time(), request_id=request_id, model=model, segment=route,
            tags={"route": route, "status": str(outcome.status),
                  "budget_source": decision.source, "exit_reason": outcome.exit_reason},
            budget_tier=decision.tier or (
                None if decision.budget is None else f"{decision.source}:{decision.budget}"),
            budget_tokens=decision.budget, assignment=decision.assignment,
            assignment_prob=decision.assignment_prob,
            reasoning_tokens=max(0, outcome.reasoning_tokens),
            output_tokens=max(0, outcome.output_tokens), prompt_tokens=outcome.prompt_tokens,
            finish_reason=outcome.finish_reason, truncated=outcome.truncated,
            covariates=covariates, latency_s=max(0.0, time.perf_counter() - started),
        )  # fmt: skip
        state.sink.emit(event, route, outcome.status)
        state.metrics.observe(
            event, route, outcome.status, exit_reason=outcome.exit_reason,
            probe_tokens=outcome.probe_tokens,
        )  # fmt: skip

    def upstream_headers(request: Request) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if settings.api_key:
            headers["authorization"] = f"Bearer {settings.api_key}"
        elif "authorization" in request.headers:
            headers["authorization"] = request.headers["authorization"]
        return headers

    async def passthrough(
        request: Request, parsed: ParsedRequest, decision: Decision, request_id: str,
        outcome: Outcome, started: float,
    ) -> Response:  # fmt: skip
        path = "/v1/chat/completions" if parsed.route == "chat" else "/v1/completions"
        body = dict(parsed.body)
        if decision.budget is not None and decision.mode == "native":
            rule = settings.policy.rule_for(parsed.route, parsed.model)
            assert rule.cap is not None
            body[rule.cap.native_param] = decision.budget
            outcome.exit_reason = "native"
        upstream = state.http.build_request(
            "POST", path, content=json.dumps(body).encode(), headers=upstream_headers(request)
        )

        async def fetch() -> tuple[httpx.Response, bytes | None]:
            # One disconnect watcher for the whole exchange; a stream's body is relayed.
            resp = await state.http.send(upstream, stream=True)
            if parsed.stream and resp.status_code < 400:
                return resp, None
            try:
                return resp, await resp.aread()
            finally:
                await resp.aclose()

        try:
            resp, raw = await run_or_cancel(request, fetch())
        except httpx.TransportError as exc:
            outcome.status = 502
            finish(parsed.route, parsed.model, request_id, decision, outcome, started,
                   parsed.text)  # fmt: skip
            return JSONResponse(
                error_body(f"upstream {state.root} unreachable: {type(exc).__name__}",
                           kind="upstream_unreachable", code=502),
                status_code=502, headers=_headers(request_id, decision, outcome),
            )  # fmt: skip
        outcome.status = resp.status_code
        if raw is not None:
            if resp.status_code < 400:
                with contextlib.suppress(ValueError):
                    _usage_facts(json.loads(raw), outcome)
            finish(parsed.route, parsed.model, request_id, decision, outcome, started,
                   parsed.text)  # fmt: skip
            return Response(
                raw, status_code=resp.status_code,
                media_type=resp.headers.get("content-type", "application/json"),
                headers=_headers(request_id, decision, outcome),
            )  # fmt: skip

        async def relay() -> AsyncIterator[bytes]:
            tail = b""
            complete = False
            try:
                async for chunk in resp.aiter_raw():
                    yield chunk
                    # Keep the last bytes: the final SSE events carry usage/finish reason.
                    tail = (tail + chunk)[-4096:]
                complete = True
            finally:
                if not complete:
                    outcome.status = 499  # the client left (or the stream broke) midway
                await resp.aclose()
                _sse_usage_facts(tail, outcome)
                finish(parsed.route, parsed.model, request_id, decision, outcome, started,
                       parsed.text)  # fmt: skip

        return StreamingResponse(
            relay(), status_code=resp.status_code,
            media_type=resp.headers.get("content-type", "text/event-stream"),
            headers=_headers(request_id, decision, None),
        )  # fmt: skip

    async def forced(parsed: ParsedRequest, decision: Decision, rule: Rule,
                     outcome: Outcome) -> tuple[str, str, str | None]:  # fmt: skip
        """Think under the budget through the engine, then answer. (reasoning, answer, finish)"""
        assert decision.budget is not None
        engine = await state.engine(parsed.model)
        body = parsed.body
        temperature = float(body.get("temperature", 1.0))
        seed = body.get("seed") if isinstance(body.get("seed"), int) else None
        if parsed.route == "chat":
            prefix, _ = await thinking_prefix(engine, body["messages"])
        else:
            prompt = parsed.text
            prefix = prompt if prompt.rstrip().endswith(engine.think_open) else (
                f"{prompt}{engine.think_open}\n")  # fmt: skip
        trace: ForcedTrace
        if decision.early_exit:
            assert rule.early_exit is not None
            run = await think_with_early_exit(
                engine, prefix, cap=decision.budget, config=rule.early_exit.config(),
                answer_tokens=rule.early_exit.probe_tokens,
                # A probe's answer is its first line, classed as votes class answers.
                extract=lambda text: answer_key(
                    text.removeprefix("Final answer:").strip().split("\n")[0], "exact"),
                temperature=temperature, seed=seed,
            )  # fmt: skip
            trace = run.trace
            outcome.exit_reason = run.reason
            outcome.probe_tokens = sum(p.tokens for p in run.probes)
        else:
            chunk = rule.cap.chunk if rule.cap is not None else 64
            trace = await chunked_thinking(
                engine, prefix, cap=decision.budget, chunk=chunk, temperature=temperature,
                seed=seed,
            )  # fmt: skip
            outcome.exit_reason = "cap" if trace.hit_cap else "natural"
        outcome.reasoning_tokens = trace.tokens
        outcome.truncated = trace.hit_cap
        outcome.prompt_tokens = trace.prompt_tokens or None
        answer_prompt = f"{prefix}{trace.reasoning.rstrip()}\n{engine.think_close}\n\n"
        stop = body.get("stop")
        result = await engine.complete(
            answer_prompt, max_tokens=parsed.max_tokens or rule.answer_tokens,
            temperature=temperature, seed=seed,
            stop=[stop] if isinstance(stop, str) else stop if isinstance(stop, list) else None,
        )  # fmt: skip
        if outcome.prompt_tokens is None:
            outcome.prompt_tokens = result.prompt_tokens
        outcome.output_tokens = result.completion_tokens
        outcome.finish_reason = result.finish_reason
        return trace.reasoning.strip(), result.text, result.finish_reason

    def forced_body(parsed: ParsedRequest, request_id: str, reasoning: str, answer: str,
                    finish_reason: str | None, outcome: Outcome) -> dict[str, Any]:  # fmt: skip
        usage = {
            "prompt_tokens": outcome.prompt_tokens or 0,
            "completion_tokens": outcome.reasoning_tokens + outcome.output_tokens,
            "total_tokens": (outcome.prompt_tokens or 0) + outcome.reasoning_tokens
            + outcome.output_tokens,
            "completion_tokens_details": {"reasoning_tokens": outcome.reasoning_tokens},
        }  # fmt: skip
        created = int(time.time())
        if parsed.route == "chat":
            return {
                "id": request_id, "object": "chat.completion", "created": created,
                "model": parsed.model,
                "choices": [{"index": 0, "finish_reason": finish_reason,
                             "message": {"role": "assistant", "content": answer,
                                         "reasoning_content": reasoning}}],
                "usage": usage,
            }  # fmt: skip
        return {
            "id": request_id, "object": "text_completion", "created": created,
            "model": parsed.model,
            "choices": [{"index": 0, "text": answer, "finish_reason": finish_reason,
                         "logprobs": None}],
            "usage": usage,
        }  # fmt: skip

    def sse(parsed: ParsedRequest, body: dict[str, Any]) -> AsyncIterator[bytes]:
        """The finished forced response as server-sent events (reasoning, then answer)."""
        choice = body["choices"][0]
        base = {k: body[k] for k in ("id", "created", "model")}

        def event(delta_or_text: dict[str, Any], finish_reason: str | None = None,
                  usage: dict[str, Any] | None = None) -> bytes:  # fmt: skip
            if parsed.route == "chat":
                chunk = {**base, "object": "chat.completion.chunk",
                         "choices": [{"index": 0, "delta": delta_or_text,
                                      "finish_reason": finish_reason}]}  # fmt: skip
            else:
                piece = {"index": 0, "text": delta_or_text.get("text", ""),
                         "finish_reason": finish_reason, "logprobs": None}  # fmt: skip
                chunk = {**base, "object": "text_completion", "choices": [piece]}
            if usage is not None:
                chunk["usage"] = usage
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        async def gen() -> AsyncIterator[bytes]:
            if parsed.route == "chat":
                message = choice["message"]
                yield event({"role": "assistant", "content": ""})
                if message["reasoning_content"]:
                    yield event({"reasoning_content": message["reasoning_content"]})
                yield event({"content": message["content"]})
                yield event({}, choice["finish_reason"], body["usage"])
            else:
                yield event({"text": choice["text"]})
                yield event({"text": ""}, choice["finish_reason"], body["usage"])
            yield b"data: [DONE]\n\n"

        return gen()

    async def handle(request: Request, route: str) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or f"otk-{uuid.uuid4().hex[:20]}"
        decision = Decision()
        try:
            try:
                raw = await request.body()
            except ClientDisconnect:
                return Response(status_code=499)  # gone before sending its request
            try:
                body = json.loads(raw)
            except ValueError:
                raise BadRequest("the request body is not valid JSON") from None
            parsed = parse_request(route, body)
        except BadRequest as exc:
            outcome = Outcome(status=400)
            finish(route, "unknown", request_id, decision, outcome, started, "")
            return JSONResponse(
                error_body(str(exc), kind="invalid_request_error", param=exc.param),
                status_code=400, headers=_headers(request_id, decision, None),
            )  # fmt: skip
        rule = settings.policy.rule_for(route, parsed.model)
        decision = decide(rule, parsed, request_id)
        outcome = Outcome(removed=_clean(parsed, decision.hygiene))
        if decision.budget is None or decision.mode == "native":
            try:
                return await passthrough(request, parsed, decision, request_id, outcome, started)
            except ClientGone:
                outcome.status = 499
                finish(route, parsed.model, request_id, decision, outcome, started, parsed.text)
                return Response(status_code=499)
        try:
            reasoning, answer, finish_reason = await run_or_cancel(
                request, forced(parsed, decision, rule, outcome)
            )
        except ClientGone:
            outcome.status = 499  # nginx's "client closed request": no one reads it
            finish(route, parsed.model, request_id, decision, outcome, started, parsed.text)
            return Response(status_code=499)
        except EngineCallError as exc:
            status = exc.status_code or 502
            outcome.status = status
            finish(route, parsed.model, request_id, decision, outcome, started, parsed.text)
            kind = "upstream_error" if exc.status_code else "upstream_unreachable"
            return JSONResponse(
                error_body(str(exc), kind=kind, code=status), status_code=status,
                headers=_headers(request_id, decision, outcome),
            )  # fmt: skip
        except (httpx.TransportError, OSError) as exc:
            outcome.status = 502
            finish(route, parsed.model, request_id, decision, outcome, started, parsed.text)
            return JSONResponse(
                error_body(f"upstream {state.root} unreachable: {type(exc).__name__}",
                           kind="upstream_unreachable", code=502),
                status_code=502, headers=_headers(request_id, decision, outcome),
            )  # fmt: skip
        body = forced_body(parsed, request_id, reasoning, answer, finish_reason, outcome)
        finish(route, parsed.model, request_id, decision, outcome, started, parsed.text)
        headers = _headers(request_id, decision, outcome)
        if parsed.stream:
            return StreamingResponse(
                sse(parsed, body), media_type="text/event-stream", headers=headers
            )
        return JSONResponse(body, headers=headers)

    async def guarded(request: Request, route: str) -> Response:
        try:
            return await handle(request, route)
        except Exception as exc:  # a bug must still answer in the OpenAI error shape
            log.exception("proxy error on %s", route)
            return JSONResponse(
                error_body(f"proxy error: {type(exc).__name__}: {exc}", kind="proxy_error",
                           code=500), status_code=500,
            )  # fmt: skip

    async def chat(request: Request) -> Response:
        return await guarded(request, "chat")

    async def completions(request: Request) -> Response:
        return await guarded(request, "completions")

    async def models(request: Request) -> Response:
        try:
            resp = await state.http.get("/v1/models")
        except httpx.TransportError as exc:
            return JSONResponse(
                error_body(f"upstream unreachable: {type(exc).__name__}",
                           kind="upstream_unreachable", code=502), status_code=502,
            )  # fmt: skip
        return Response(resp.content, status_code=resp.status_code,
                        media_type=resp.headers.get("content-type"))  # fmt: skip

    async def metrics(request: Request) -> Response:
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "events": state.sink.count})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.aclose()

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/chat/completions", chat, methods=["POST"]),
            Route("/completions", completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.proxy = state
    return app
