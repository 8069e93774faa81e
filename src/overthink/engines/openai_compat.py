"""Any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama) through the ``openai`` SDK.

Retries with exponential backoff on 429, 5xx, timeouts and dropped connections (counted,
so records say how many were needed), and a concurrency limit per engine. Reasoning is
read from ``reasoning_content``/``reasoning`` fields or a ``<think>…</think>`` segment;
reasoning tokens come from usage when reported, else from the server's ``/tokenize``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import openai

from overthink.core import BudgetMode
from overthink.engines.base import ChatResult, CompletionResult, Engine, Message
from overthink.errors import EngineUnavailable

__all__ = ["EngineCallError", "OpenAICompatEngine", "split_think"]

T = TypeVar("T")


class _RetryableStatus(RuntimeError):
    """A 429/5xx answer from one of the server's non-OpenAI endpoints."""


_RETRYABLE = (
    openai.APIConnectionError,  # includes APITimeoutError and dropped connections
    openai.RateLimitError,
    openai.InternalServerError,
    httpx.TransportError,
    _RetryableStatus,
)


class EngineCallError(RuntimeError):
    """A request failed for good (after retries, or a non-retryable status)."""

    def __init__(self, message: str, retries: int) -> None:
        super().__init__(message)
        self.retries = retries


def split_think(
    text: str, open_tag: str = "<think>", close_tag: str = "</think>"
) -> tuple[str, str]:
    """Split ``text`` into (reasoning, answer) on a thinking segment.

    An unclosed segment (generation cut inside thinking) is all reasoning; text with no
    segment is all answer. Some templates open the segment in the prompt, so a lone close
    tag also splits.
    """
    start = text.find(open_tag)
    end = text.find(close_tag)
    if start == -1 and end == -1:
        return "", text.strip()
    if start != -1 and (end == -1 or end < start):
        return text[start + len(open_tag) :].strip(), ""
    begin = 0 if start == -1 else start + len(open_tag)
    return text[begin:end].strip(), text[end + len(close_tag) :].strip()


def _token_bytes(logprobs: Any) -> list[bytes] | None:
    """Per-token bytes from a completion's logprobs, in either wire shape.

    llama.cpp returns ``content: [{token, bytes, ...}]``; OpenAI/vLLM's legacy completions
    shape returns ``tokens: [str]``.
    """
    if logprobs is None:
        return None
    extra = getattr(logprobs, "model_extra", None) or {}
    content = extra.get("content")
    if isinstance(content, list):
        return [
            bytes(item["bytes"]) if item.get("bytes") is not None else str(item["token"]).encode()
            for item in content
        ]
    tokens = getattr(logprobs, "tokens", None)
    if tokens is not None:
        return [str(t).encode() for t in tokens]
    return None


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
        concurrency: int = 4,
        max_retries: int = 4,
        timeout_s: float = 600.0,
        backoff_s: float = 0.5,
        deterministic: bool = False,
        can_complete: bool = True,
    ) -> None:
        self.name = name
        self.model = model
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.root_url = self.base_url[: -len("/v1")]
        self.deterministic = deterministic
        self.concurrency = 1 if deterministic else max(1, concurrency)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.can_complete = can_complete
        if can_complete:
            self.capabilities = self.capabilities | {BudgetMode.FORCED}
        # The SDK's own retries are off: ours count attempts so records can report them.
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=api_key, max_retries=0, timeout=timeout_s
        )
        self._http = httpx.AsyncClient(base_url=self.root_url, timeout=timeout_s)
        self._sem: asyncio.Semaphore | None = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": self.model}

    def _extra(self, extra: dict[str, Any] | None) -> dict[str, Any]:
        body = dict(extra or {})
        if self.deterministic:
            # llama.cpp is not batch-invariant: a continuation on a cached prefix can
            # differ from the same text computed from scratch.
            body.setdefault("cache_prompt", False)
        return body

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        async with self._sem:
            attempt = 0
            while True:
                try:
                    return await fn(), attempt
                except _RETRYABLE as exc:
                    if attempt >= self.max_retries:
                        raise EngineCallError(
                            f"{type(exc).__name__} after {attempt} retries: {exc}", attempt
                        ) from exc
                except openai.APIStatusError as exc:
                    raise EngineCallError(
                        f"HTTP {exc.status_code} from {self.name}: {exc.message}", attempt
                    ) from exc
                delay = self.backoff_s * (2**attempt) * (0.5 + random.random())
                attempt += 1
                await asyncio.sleep(delay)

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
        request: dict[str, Any] = {"model": self.model, "temperature": temperature}
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if seed is not None:
            request["seed"] = seed
        if stop:
            request["stop"] = stop
        body = self._extra(extra)
        resp, retries = await self._call(
            lambda: self._client.chat.completions.create(
                messages=messages,  # type: ignore[arg-type]
                extra_body=body or None,
                **request,
            )
        )
        choice = resp.choices[0]
        content = choice.message.content or ""
        extras = choice.message.model_extra or {}
        field_reasoning = extras.get("reasoning_content") or extras.get("reasoning") or ""
        if field_reasoning:
            reasoning, text = str(field_reasoning).strip(), content.strip()
        else:
            reasoning, text = split_think(content, self.think_open, self.think_close)
        usage = resp.usage
        self.generated_tokens += usage.completion_tokens if usage else 0
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
        resp, retries = await self._call(
            lambda: self._client.completions.create(
                prompt=prompt, extra_body=body or None, **request
            )
        )
        choice = resp.choices[0]
        usage = resp.usage
        completion_tokens = usage.completion_tokens if usage else 0
        self.generated_tokens += completion_tokens
        return CompletionResult(
            text=choice.text or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=completion_tokens,
            finish_reason=choice.finish_reason,
            request={"endpoint": "completions", **request, **body},
            retries=retries,
            token_bytes=_token_bytes(choice.logprobs) if want_tokens else None,
        )

    async def _post_root(self, path: str, body: dict[str, Any]) -> Any:
        async def go() -> Any:
            resp = await self._http.post(path, json=body)
            if resp.status_code == 429 or resp.status_code >= 500:
                raise _RetryableStatus(f"HTTP {resp.status_code} from {path}")
            resp.raise_for_status()
            return resp.json()

        result, _ = await self._call(go)
        return result

    async def render_chat(self, messages: list[Message]) -> str:
        """Apply the server's chat template (llama.cpp ``/apply-template``)."""
        data = await self._post_root("/apply-template", {"messages": messages})
        return str(data["prompt"])

    async def count_tokens(self, text: str) -> int:
        """Token count via the server's ``/tokenize`` (llama.cpp and vLLM shapes)."""
        if not text:
            return 0
        data = await self._post_root(
            "/tokenize",
            {"content": text, "prompt": text, "model": self.model, "add_special": False},
        )
        if "count" in data:
            return int(data["count"])
        return len(data["tokens"])

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

    async def aclose(self) -> None:
        await self._client.close()
        await self._http.aclose()
