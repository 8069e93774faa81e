"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama).

Chat calls go through the ``openai`` SDK, imported on the first chat call; raw
``/v1/completions`` calls (forced budgets, the default run) are plain httpx requests
(``engines.completions_http``), so a forced sweep never pays the SDK's import.

Retries with exponential backoff on 429, 5xx, timeouts and dropped connections (counted,
so records say how many were needed), and a concurrency limit per engine — both from
``engines.retry``. Reasoning is read from ``reasoning_content``/``reasoning`` fields or a
thinking segment; reasoning tokens come from usage when reported, else from the server's
``/tokenize``.

A ``native`` budget on a generic OpenAI-compatible server is sent in one of a few known
shapes (``native_style``); the default is Gemini's ``thinking_budget`` inside the
``extra_body.google.thinking_config`` object that Google's OpenAI-compatible endpoint reads.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from overthink.core import BudgetMode
from overthink.engines.base import (
    ChatBudget,
    ChatResult,
    CompletionResult,
    Engine,
    Message,
    TokenSink,
)
from overthink.engines.bodies import clean_text, expect_choices, expect_json_object
from overthink.engines.completions_http import (
    Usage,
    finish_reason,
    post_completion,
    token_entries,
    token_logprobs,
)
from overthink.engines.markers import ThinkMarkers, markers_in_template, split_think
from overthink.engines.retry import EngineCallError, RetryableStatus, RetryLoop
from overthink.engines.served import RequestLog
from overthink.engines.session import send_session_header
from overthink.engines.slots import current_slot
from overthink.errors import ConfigError, EngineUnavailable

if TYPE_CHECKING:
    import openai

__all__ = [
    "NATIVE_STYLES",
    "EffortBuckets",
    "EngineCallError",
    "OpenAICompatEngine",
    "split_think",
]

T = TypeVar("T")

NATIVE_STYLES = ("gemini", "thinking_budget", "vllm", "effort")
"""How ``native`` budgets are sent to an OpenAI-compatible server:

* ``gemini`` — ``extra_body: {google: {thinking_config: {thinking_budget: B,
  include_thoughts: true}}}`` (Google's OpenAI-compatible endpoint);
* ``thinking_budget`` — a top-level ``thinking_budget: B`` (Qwen on DashScope and others);
* ``vllm`` — vLLM's top-level ``thinking_token_budget: B``;
* ``effort`` — ``reasoning_effort`` bucketed from B (see ``EffortBuckets``).
"""

# Gemini's compatibility layer returns thought summaries wrapped in these tags.
_GEMINI_THOUGHT = ("<thought>", "</thought>")


@dataclass(frozen=True)
class EffortBuckets:
    """Token budget → ``reasoning_effort`` level.

    ``levels[i]`` is used for budgets below ``edges[i]``; the last level for the rest. The
    default maps B < 2048 → low, B < 8192 → medium, else high. OpenAI publishes no token
    equivalent for its levels, so the edges are a convention: every record stores the
    level sent and the edges used.
    """

    edges: tuple[int, ...] = (2048, 8192)
    levels: tuple[str, ...] = ("low", "medium", "high")

    def __post_init__(self) -> None:
        if len(self.levels) != len(self.edges) + 1:
            raise ConfigError(
                f"effort_levels needs one more entry than effort_edges "
                f"(got {len(self.levels)} levels for {len(self.edges)} edges)"
            )
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ConfigError(f"effort_edges must be strictly increasing: {list(self.edges)}")
        if any(e <= 0 for e in self.edges):
            raise ConfigError(f"effort_edges must be positive: {list(self.edges)}")

    def level(self, tokens: int) -> str:
        """The effort level for a budget of ``tokens``."""
        for edge, level in zip(self.edges, self.levels, strict=False):
            if tokens < edge:
                return level
        return self.levels[-1]

    def describe(self) -> dict[str, Any]:
        """The bucketing rule, as recorded next to the level sent."""
        return {"effort_edges": list(self.edges), "effort_levels": list(self.levels)}


def openai_retry_loop(
    name: str, *, concurrency: int, max_retries: int, backoff_s: float, secrets: tuple[str, ...]
) -> RetryLoop:
    """The shared retry loop for httpx calls; the engine teaches it the ``openai`` SDK's
    exceptions when the SDK client is first made (``OpenAICompatEngine._client``)."""
    return RetryLoop(
        name,
        transient=(httpx.TransportError,),  # timeouts and dropped connections included
        concurrency=concurrency,
        max_retries=max_retries,
        backoff_s=backoff_s,
        secrets=secrets,
    )


def _sdk_client(base_url: str, api_key: str, timeout: httpx.Timeout) -> openai.AsyncOpenAI:
    import openai

    # The SDK's own retries are off: ours count attempts so records can report them.
    # ``timeout`` bounds each read (the wait for the next bytes), not the request: a long
    # generation is fine as long as the server keeps the connection alive.
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key=api_key,
        max_retries=0,
        timeout=openai.Timeout(timeout.read, connect=timeout.connect),
    )


class OpenAICompatEngine(Engine):
    """An engine for any server speaking the OpenAI chat/completions wire format."""

    capabilities = frozenset({BudgetMode.NONE, BudgetMode.NATURAL, BudgetMode.PROMPT})

    def __init__(
        self,
        name: str,
        model: str,
        base_url: str,
        *,
        api_key: str = "not-needed",
        concurrency: int | None = None,
        max_retries: int = 4,
        timeout_s: float = 600.0,
        connect_timeout_s: float = 10.0,
        backoff_s: float = 0.5,
        deterministic: bool = False,
        can_complete: bool = True,
        native_style: str | None = None,
        effort: EffortBuckets | None = None,
        markers: ThinkMarkers | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.root_url = self.base_url[: -len("/v1")]
        self.deterministic = deterministic
        # None: 4 until check() reads the server's slot count from /props.
        self.concurrency_from = "config" if concurrency is not None else "default"
        self.concurrency = 1 if deterministic else max(1, concurrency or 4)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.can_complete = can_complete
        if native_style is not None and native_style not in NATIVE_STYLES:
            raise ConfigError(
                f"native_style {native_style!r} is not one of {', '.join(NATIVE_STYLES)}"
            )
        self.native_style = native_style
        self.effort = effort or EffortBuckets()
        caps = set(self.capabilities)
        if can_complete:
            caps.add(BudgetMode.FORCED)
        if native_style is not None:
            caps.add(BudgetMode.NATIVE)
        self.capabilities = frozenset(caps)
        if markers is not None:
            self.set_markers(markers)
        self._markers_fixed = markers is not None
        # The key is held by the HTTP clients (the SDK's made on first chat call) and the
        # retry loop (to scrub it from error text), never anywhere a record, log or report
        # could read it.
        secrets = (api_key,) if api_key not in ("not-needed", "none", "") else ()
        self._retry = openai_retry_loop(
            name,
            concurrency=self.concurrency,
            max_retries=max_retries,
            backoff_s=backoff_s,
            secrets=secrets,
        )
        # The server's own endpoints (/apply-template, /tokenize, /props, /v1/completions)
        # need the key too: llama.cpp started with --api-key guards them like /v1.
        headers = {"Authorization": f"Bearer {api_key}"} if secrets else None
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._http = httpx.AsyncClient(
            base_url=self.root_url,
            timeout=self._timeout,
            headers=headers,
            # As many connections as the SDK allows: a vLLM engine keeps 32+ in flight.
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
        )
        self._api_key = api_key
        self._sdk: openai.AsyncOpenAI | None = None
        send_session_header(self._http)  # X-Session-ID per trial group
        self.request_log: RequestLog | None = None
        """Set to a ``RequestLog`` to note each completion's server timings (benchmarks)."""

    @property
    def _client(self) -> openai.AsyncOpenAI:
        """The ``openai`` SDK client, made (and the SDK imported) on first use."""
        if self._sdk is None:
            import openai

            self._sdk = _sdk_client(self.base_url, self._api_key, self._timeout)
            send_session_header(self._sdk)
            self._retry.also_retry(
                transient=(openai.APIConnectionError,), status_errors=(openai.APIStatusError,)
            )
        return self._sdk

    @_client.setter
    def _client(self, client: openai.AsyncOpenAI) -> None:
        self._client  # noqa: B018 - the retry loop learns the SDK's errors once
        self._sdk = client

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "model": self.model}
        if self.native_style is not None:
            out["native_style"] = self.native_style
        return out

    def chat_budget(self, mode: BudgetMode, reasoning_cap: int, answer_tokens: int) -> ChatBudget:
        if mode is not BudgetMode.NATIVE or self.native_style is None:
            return super().chat_budget(mode, reasoning_cap, answer_tokens)
        budget = reasoning_cap
        max_tokens = budget + answer_tokens
        style = self.native_style
        if style == "effort":
            level = self.effort.level(budget)
            # reasoning_effort is a hint, not a token budget: the only token limit sent
            # is max_tokens, so that is what the record calls enforced.
            return ChatBudget(
                max_tokens=max_tokens,
                params={"reasoning_effort": level},
                enforced_cap=max_tokens,
                notes={"native_style": style, **self.effort.describe()},
            )
        params: dict[str, Any]
        if style == "gemini":
            # Google's OpenAI-compatible endpoint reads a literal "extra_body" key.
            params = {
                "extra_body": {
                    "google": {
                        "thinking_config": {"thinking_budget": budget, "include_thoughts": True}
                    }
                }
            }
        elif style == "vllm":
            params = {"thinking_token_budget": budget}
        else:
            params = {"thinking_budget": budget}
        return ChatBudget(
            max_tokens=max_tokens,
            params=params,
            enforced_cap=budget,
            notes={"native_style": style},
        )

    def _extra(self, extra: dict[str, Any] | None) -> dict[str, Any]:
        body = dict(extra or {})
        if self.deterministic:
            # llama.cpp is not batch-invariant: a continuation on a cached prefix can
            # differ from the same text computed from scratch.
            body.setdefault("cache_prompt", False)
        return body

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        return await self._retry(fn)

    def _split_reasoning(self, content: str, extras: dict[str, Any]) -> tuple[str, str]:
        """(reasoning, answer) from a chat message's reasoning field or its content."""
        field_reasoning = clean_text(
            str(extras.get("reasoning_content") or extras.get("reasoning") or "")
        )
        if field_reasoning:
            return str(field_reasoning).strip(), content.strip()
        reasoning, text = split_think(content, self.think_open, self.think_close)
        if not reasoning and self.native_style == "gemini" and _GEMINI_THOUGHT[0] in content:
            reasoning, text = split_think(content, *_GEMINI_THOUGHT)
        return reasoning, text

    def _chat_request(
        self,
        max_tokens: int | None,
        temperature: float,
        seed: int | None,
        stop: list[str] | None,
    ) -> dict[str, Any]:
        """Typed SDK arguments of a chat call (providers rename or drop some)."""
        request: dict[str, Any] = {"model": self.model, "temperature": temperature}
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if seed is not None:
            request["seed"] = seed
        if stop:
            request["stop"] = stop
        return request

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
        request = self._chat_request(max_tokens, temperature, seed, stop)
        body = self._extra(extra)
        resp, retries = await self._call(
            expect_choices(
                lambda: self._client.chat.completions.create(
                    messages=messages,  # type: ignore[arg-type]
                    extra_body=body or None,
                    **request,
                ),
                f"{self.name} /chat/completions",
                chat=True,
            )
        )
        choice = resp.choices[0]
        content = clean_text(choice.message.content)
        reasoning, text = self._split_reasoning(content, choice.message.model_extra or {})
        usage = resp.usage
        self.generated_tokens += usage.completion_tokens if usage else 0
        self._count_prompt(usage)
        reasoning_tokens: int | None = None
        if usage is not None and usage.completion_tokens_details is not None:
            reasoning_tokens = usage.completion_tokens_details.reasoning_tokens
        return ChatResult(
            text=text,
            reasoning=reasoning,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            reasoning_tokens=reasoning_tokens,
            finish_reason=choice.finish_reason,
            request={"endpoint": "chat", **request, **body},
            retries=retries,
        )

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
        if not self.can_complete:
            return await super().complete(prompt, max_tokens=max_tokens, temperature=temperature)
        if max_tokens < 1:
            # llama.cpp treats 0 as "unlimited"; a zero budget must never reach the server.
            raise ValueError("complete() needs max_tokens >= 1")
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if seed is not None:
            request["seed"] = seed
        if stop:
            request["stop"] = stop
        if want_tokens:
            request["logprobs"] = 1
        body = self._extra(extra)

        source = f"{self.name} /completions"

        async def create() -> dict[str, Any]:
            sent = time.perf_counter()
            payload = {"prompt": prompt, **request, **self.placed(body)}
            resp = await post_completion(self._http, payload, source)
            self.note_served("complete", sent, resp, payload)
            return resp

        resp, retries = await self._call(create)
        choice = resp["choices"][0]
        usage = Usage.of(resp.get("usage")) or Usage()
        self.generated_tokens += usage.completion_tokens
        self.count_usage(usage)
        logprobs = choice.get("logprobs")
        return CompletionResult(
            text=clean_text(choice["text"]),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            finish_reason=finish_reason(choice),
            request={"endpoint": "completions", **request, **body},
            retries=retries,
            token_bytes=[b for b, _ in token_entries(logprobs)] if want_tokens else None,
            token_logprobs=token_logprobs(logprobs) if want_tokens else None,
        )

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
        """Streamed completion with per-token bytes (see ``engines.streaming``)."""
        if not self.can_complete:
            return await super().complete_stream(
                prompt, max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop
            )
        from overthink.engines.streaming import stream_completion

        return await stream_completion(
            self, prompt, max_tokens=max_tokens, temperature=temperature, seed=seed,
            stop=stop, on_tokens=on_tokens,
        )  # fmt: skip

    @property
    def pin_slots(self) -> bool:
        """Send each completion to the numbered server slot it holds (llama.cpp ``id_slot``),
        placed by prefix affinity (``engines.slots``). Set before the first request; only
        for a server whose slots this engine alone uses (the embedded one, or a llama.cpp
        server whose slot count we read), never in deterministic mode (no prompt cache)."""
        return self._retry.pinned

    @pin_slots.setter
    def pin_slots(self, value: bool) -> None:
        self._retry.pinned = value and not self.deterministic and self.can_complete

    def placed(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` with the held slot's ``id_slot`` when slots are pinned."""
        slot = current_slot()
        return {**body, "id_slot": slot} if self.pin_slots and slot is not None else body

    def note_served(self, kind: str, sent: float, resp: Any, payload: dict[str, Any]) -> None:
        """Add a finished request (``payload``: its JSON body) to ``request_log``, if any."""
        if self.request_log is None:
            return
        extra = resp if isinstance(resp, dict) else (getattr(resp, "model_extra", None) or {})
        slot = payload.get("id_slot")
        self.request_log.add(kind, sent, time.perf_counter(), extra.get("timings"),
                             slot if isinstance(slot, int) else None, payload)  # fmt: skip

    def _count_prompt(self, usage: Any) -> None:
        """Add an SDK response's prompt tokens (and those served from cache) to the totals."""
        if usage is None:
            return
        details = getattr(usage, "prompt_tokens_details", None)
        cached = (getattr(details, "cached_tokens", None) or 0) if details else 0
        self.count_usage(Usage(usage.prompt_tokens or 0, 0, cached))

    def count_usage(self, usage: Usage) -> None:
        """Add a completion's prompt tokens (and those served from cache) to the totals."""
        self.prompt_tokens_seen += usage.prompt_tokens
        self.prompt_tokens_cached += usage.cached_tokens

    async def _post_root(
        self, path: str, body: dict[str, Any], keys: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            resp = await self._http.post(path, json=body)
            if resp.status_code == 429 or resp.status_code >= 500:
                raise RetryableStatus(f"HTTP {resp.status_code} from {path}")
            if resp.status_code >= 400:
                # Not retryable, and an EngineCallError (not httpx's own error) so callers
                # can treat "this server has no such endpoint" like any failed call.
                raise EngineCallError(
                    f"HTTP {resp.status_code} from {self.name} {path}", 0, resp.status_code
                )
            return expect_json_object(resp.text, f"{self.name} {path}", keys)

        result, _ = await self._call(go)
        return result

    async def render_chat(self, messages: list[Message]) -> str:
        """Apply the server's chat template (llama.cpp ``/apply-template``)."""
        data = await self._post_root("/apply-template", {"messages": messages}, ("prompt",))
        return str(data["prompt"])

    async def detokenize(self, ids: list[int]) -> str:
        """Text of token ``ids`` via the server's ``/detokenize`` (llama.cpp and vLLM)."""
        if not ids:
            return ""
        data = await self._post_root("/detokenize", {"tokens": ids, "model": self.model})
        return str(data.get("content", data.get("prompt", "")))

    async def count_tokens(self, text: str) -> int:
        """Token count via the server's ``/tokenize`` (llama.cpp and vLLM shapes)."""
        if not text:
            return 0
        data = await self._post_root(
            "/tokenize",
            {"content": text, "prompt": text, "model": self.model, "add_special": False},
            ("count", "tokens"),
        )
        if "count" in data:
            return int(data["count"])
        return len(data["tokens"])

    async def detect_markers(self) -> None:
        """Take the thinking markers from the chat template (llama.cpp ``/props``).

        Best effort and GET-only: a server without ``/props`` keeps the defaults.
        """
        if self._markers_fixed:
            return
        try:
            resp = await self._http.get("/props", timeout=5.0)
            template = resp.json().get("chat_template") if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return
        found = markers_in_template(template if isinstance(template, str) else None)
        if found is not None:
            self.set_markers(found)

    async def detect_slots(self) -> None:
        """Use the server's slot count (llama.cpp ``/props`` ``total_slots``) as the number
        of requests in flight, unless the config set one. Best effort, GET-only."""
        if self.concurrency_from != "default" or self.deterministic:
            return
        try:
            resp = await self._http.get("/props", timeout=5.0)
            total = resp.json().get("total_slots") if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return
        if isinstance(total, int) and not isinstance(total, bool) and total > 0:
            self.concurrency = total
            self._retry.concurrency = total
            self.concurrency_from = "server"
            # llama.cpp numbers its slots: place requests where their prefix is cached.
            self.pin_slots = True

    async def check(self) -> None:
        try:
            resp = await self._http.get("/health", timeout=5.0)
            if resp.status_code == 404:
                resp = await self._http.get("/v1/models", timeout=5.0)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(
                f"cannot reach model server at {self.root_url}: {type(exc).__name__} {exc}"
            ) from None
        if resp.status_code >= 400:
            raise EngineUnavailable(
                f"model server at {self.root_url} answered HTTP {resp.status_code} "
                "to a health check"
            )
        await self.detect_markers()
        await self.detect_slots()

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
        await self._http.aclose()
