"""Several endpoints serving one model: spread calls, keep groups together, route around death.

A fleet that already serves (vLLM data parallel, replicas behind no router, several
llama.cpp servers) is used as one engine. This is not a load balancer and does not try
to be one — put vllm-router or the SGLang router in front of a fleet for that, and give
overthink its single URL. What the pool does is what a client must do anyway:

* **per-endpoint concurrency**: each endpoint is an ordinary engine with its own request
  limit and retry loop, so one slow endpoint cannot take another's slots;
* **group affinity**: the first call of a trial group (``X-Session-ID``) goes to the
  endpoint with the fewest calls in flight and the group stays there, so its prompt
  cache is reused for every budget of the question;
* **health**: an endpoint that fails at the transport level (refused, reset, timeouts,
  5xx after its retries) is marked down for ``cooldown_s`` and the call is re-sent to
  another; the others carry on. Only when every endpoint is down does a call fail.

Records do not say which endpoint served them (``describe`` is the member engines'
shared description), so a run's records equal a single-endpoint run's; the manifest
keeps the per-endpoint counts.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx

from overthink.core import BudgetMode
from overthink.engines.base import ChatBudget, ChatResult, CompletionResult, Engine, Message
from overthink.engines.markers import ThinkMarkers
from overthink.engines.retry import EngineCallError
from overthink.engines.session import current_session
from overthink.errors import EngineUnavailable

__all__ = ["Endpoint", "EndpointPool"]

T = TypeVar("T")

_AFFINITY_MAX = 100_000
"""Sessions remembered (oldest forgotten first); a forgotten group is simply re-placed."""


@dataclass
class Endpoint:
    """One endpoint of a pool and what it has done (the progress rows read these)."""

    url: str
    engine: Engine
    inflight: int = 0
    calls: int = 0
    failures: int = 0
    down_until: float = 0.0
    last_error: str = ""

    def is_up(self, now: float) -> bool:
        """False while the endpoint sits out its cooldown after a failure."""
        return self.down_until <= now

    def row(self) -> dict[str, Any]:
        """The endpoint's counters for progress displays and the run manifest."""
        return {
            "endpoint": self.url,
            "calls": self.calls,
            "inflight": self.inflight,
            "failures": self.failures,
            "up": self.is_up(time.monotonic()),
            "generated_tokens": self.engine.generated_tokens,
            **({"last_error": self.last_error} if self.last_error else {}),
        }


def _endpoint_failure(exc: BaseException) -> bool:
    """True for failures that say "this endpoint is unwell", not "this request is bad"."""
    if isinstance(exc, EngineCallError):
        return exc.status_code is None or exc.status_code >= 500
    return isinstance(exc, httpx.TransportError | ConnectionError | EngineUnavailable)


def _markers_of(engine: Engine) -> ThinkMarkers:
    source = cast(Any, engine.think_source)  # a Literal on ThinkMarkers, a str on Engine
    return ThinkMarkers(engine.think_open, engine.think_close, source)


class EndpointPool(Engine):
    """One model served by several endpoints, used as a single engine."""

    def __init__(
        self,
        name: str,
        members: list[tuple[str, Engine]],
        *,
        cooldown_s: float = 30.0,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        if len(members) < 2:
            raise ValueError("an endpoint pool needs at least two endpoints")
        self.name = name
        self.endpoints = [Endpoint(url, engine) for url, engine in members]
        first = members[0][1]
        self.capabilities = frozenset.intersection(*(e.capabilities for _, e in members))
        self.can_complete = all(e.can_complete for _, e in members)
        self.deterministic = first.deterministic
        self.concurrency = sum(e.concurrency for _, e in members)
        self.cooldown_s = cooldown_s
        self.notify = notify
        """Called with one line when an endpoint goes down or comes back."""
        self.set_markers(_markers_of(first))
        self._affinity: OrderedDict[str, Endpoint] = OrderedDict()
        self.pending_notices: list[str] = []
        """Lines said before anyone listened (``notify`` unset); the executor prints them."""

    # -- routing ---------------------------------------------------------------------

    def _say(self, line: str) -> None:
        if self.notify is not None:
            self.notify(line)
        else:
            self.pending_notices.append(line)  # e.g. found at the health check

    def _pick(self, tried: set[int]) -> Endpoint:
        now = time.monotonic()
        up = [e for i, e in enumerate(self.endpoints) if i not in tried and e.is_up(now)]
        if not up:
            detail = "; ".join(f"{e.url}: {e.last_error or 'down'}" for e in self.endpoints)
            raise EngineCallError(
                f"all {len(self.endpoints)} endpoints of {self.name} are down ({detail})", 0
            )
        session = current_session()
        if session is not None:
            placed = self._affinity.get(session)
            if placed is not None and placed in up:
                self._affinity.move_to_end(session)
                return placed
        chosen = min(up, key=lambda e: (e.inflight, e.calls))
        if session is not None:
            self._affinity[session] = chosen
            if len(self._affinity) > _AFFINITY_MAX:
                self._affinity.popitem(last=False)
        return chosen

    async def _route(self, call: Callable[[Engine], Awaitable[T]]) -> T:
        tried: set[int] = set()
        while True:
            endpoint = self._pick(tried)
            endpoint.inflight += 1
            try:
                result = await call(endpoint.engine)
            except Exception as exc:
                if not _endpoint_failure(exc):
                    raise
                tried.add(self.endpoints.index(endpoint))
                self._mark_down(endpoint, exc)
                if len(tried) == len(self.endpoints):
                    raise
                continue
            finally:
                endpoint.inflight -= 1
                self.generated_tokens = sum(e.engine.generated_tokens for e in self.endpoints)
                self.prompt_tokens_seen = sum(e.engine.prompt_tokens_seen for e in self.endpoints)
                self.prompt_tokens_cached = sum(
                    e.engine.prompt_tokens_cached for e in self.endpoints
                )
            endpoint.calls += 1
            if endpoint.failures and endpoint.last_error:
                self._say(f"endpoint {endpoint.url} of {self.name} answers again")
                endpoint.last_error = ""
            return result

    def _mark_down(self, endpoint: Endpoint, exc: BaseException) -> None:
        endpoint.failures += 1
        was_up = endpoint.is_up(time.monotonic())
        endpoint.down_until = time.monotonic() + self.cooldown_s
        endpoint.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        if was_up:
            alive = sum(e.is_up(time.monotonic()) for e in self.endpoints)
            self._say(
                f"endpoint {endpoint.url} of {self.name} is down ({endpoint.last_error}); "
                f"{alive} of {len(self.endpoints)} carry on, retried in {self.cooldown_s:.0f} s"
            )

    # -- the Engine verbs, routed ----------------------------------------------------

    def set_markers(self, markers: ThinkMarkers) -> None:
        super().set_markers(markers)
        for endpoint in self.endpoints:
            endpoint.engine.set_markers(markers)

    def chat_budget(self, mode: BudgetMode, reasoning_cap: int, answer_tokens: int) -> ChatBudget:
        return self.endpoints[0].engine.chat_budget(mode, reasoning_cap, answer_tokens)

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
        return await self._route(
            lambda e: e.chat(
                messages,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
                stop=stop,
                extra=extra,
            )
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
        return await self._route(
            lambda e: e.complete(
                prompt,
                max_tokens=max_tokens,
                temperature=temperature,
                seed=seed,
                stop=stop,
                extra=extra,
                want_tokens=want_tokens,
            )
        )

    async def render_chat(self, messages: list[Message]) -> str:
        return await self._route(lambda e: e.render_chat(messages))

    async def count_tokens(self, text: str) -> int:
        return await self._route(lambda e: e.count_tokens(text))

    async def check(self) -> None:
        """Check every endpoint; unreachable ones are marked down, all down is an error."""
        failures: list[str] = []
        for endpoint in self.endpoints:
            try:
                await endpoint.engine.check()
            except EngineUnavailable as exc:
                failures.append(str(exc))
                self._mark_down(endpoint, exc)
        if len(failures) == len(self.endpoints):
            raise EngineUnavailable(
                f"none of the {len(self.endpoints)} endpoints of {self.name} answers: "
                + "; ".join(failures)
            )
        # Markers come from the first endpoint that answered (same model everywhere).
        alive = next(e for e in self.endpoints if e.is_up(time.monotonic()))
        engine = alive.engine
        self.set_markers(_markers_of(engine))

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.engine.aclose()

    def describe(self) -> dict[str, Any]:
        """The members' description: records must not depend on which endpoint served."""
        return self.endpoints[0].engine.describe()

    def rows(self) -> list[dict[str, Any]]:
        """Per-endpoint counters (progress rows, run manifest)."""
        return [e.row() for e in self.endpoints]
