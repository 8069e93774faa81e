"""One retry loop and concurrency limit for every engine that talks HTTP.

Each provider module says which of its SDK's exceptions are transient and which carry an
HTTP status; the loop retries transient failures and 408/409/429/5xx with exponential
backoff (honouring ``Retry-After``), counts the retries so records can report them, and
caps the requests in flight. Error text that reaches a record is scrubbed of API keys.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from overthink.engines.slots import PrioritySlots

__all__ = [
    "BadResponse",
    "EngineCallError",
    "RetryLoop",
    "RetryTally",
    "RetryableStatus",
    "ServerStatus",
    "note_repaired",
    "redact",
    "tally_retries",
]

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Statuses worth another try besides 5xx (timeout, conflict, rate limit)."""
MAX_RETRY_AFTER_S = 60.0

# Key-shaped strings (OpenAI ``sk-...``, Anthropic ``sk-ant-...``, masked ``sk-ab***cd``) are
# scrubbed even when they are not our key: servers echo partial keys in 401 messages.
_KEY_SHAPED = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*.]{6,}")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with every secret and every key-shaped token replaced by ``[redacted]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _KEY_SHAPED.sub("[redacted]", text)


class RetryableStatus(RuntimeError):
    """A 429/5xx answer from an endpoint we call without an SDK (e.g. ``/tokenize``)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerStatus(RuntimeError):
    """An HTTP error status from a generation endpoint we call without an SDK; the loop
    treats it as the SDKs' status errors (408/409/429/5xx retried, others fail at once)."""

    def __init__(self, message: str, status_code: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after


class BadResponse(RuntimeError):
    """HTTP 200 with a body the wire format does not allow (garbage, truncated JSON, no
    ``choices``): retried like a 5xx, since the next attempt usually comes back whole."""


class EngineCallError(RuntimeError):
    """A request failed for good (after retries, or a non-retryable status)."""

    def __init__(
        self, message: str, retries: int, status_code: int | None = None, *, transport: bool = False
    ) -> None:
        super().__init__(message)
        self.retries = retries
        self.status_code = status_code
        self.transport = transport
        """The server could not be reached or did not answer in time (not a bad answer):
        other calls to it will most likely fail the same way."""


@dataclass
class RetryTally:
    """Retries spent by every engine call made inside one ``tally_retries`` block."""

    count: int = 0
    calls: list[int] = field(default_factory=list)
    parent: RetryTally | None = None
    """The enclosing block's tally, which sees these retries too."""
    repaired: int = 0
    """Server texts that held unstorable code points and were repaired (see
    :func:`note_repaired`): the records of this block are flagged."""


_TALLY: ContextVar[RetryTally | None] = ContextVar("overthink_retry_tally", default=None)


@contextmanager
def tally_retries() -> Iterator[RetryTally]:
    """Count the retries of all engine calls made by this task inside the block.

    A trial makes several requests (render the template, think, answer, count tokens);
    results report their own retries but helper calls such as rendering return plain
    text. The tally sees all of them, so a record's ``retries`` is complete.
    """
    tally = RetryTally(parent=_TALLY.get())
    token = _TALLY.set(tally)
    try:
        yield tally
    finally:
        _TALLY.reset(token)


def _retry_after(exc: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` header on the error's response, if any."""
    direct = getattr(exc, "retry_after", None)
    if isinstance(direct, int | float):
        return float(direct)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class RetryLoop:
    """Retries with exponential backoff and a cap on requests in flight, for one engine.

    ``transient``: exception types always worth a retry (dropped connections, timeouts).
    ``status_errors``: exception types with a ``status_code``; 408/409/429/5xx are retried,
    any other status fails at once. Anything else propagates unchanged.
    """

    def __init__(
        self,
        name: str,
        *,
        transient: tuple[type[BaseException], ...],
        status_errors: tuple[type[BaseException], ...] = (),
        concurrency: int = 4,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.transient: tuple[type[BaseException], ...] = (
            *transient,
            RetryableStatus,
            BadResponse,
        )
        self.status_errors: tuple[type[BaseException], ...] = (*status_errors, ServerStatus)
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.secrets = secrets
        # Created lazily: a semaphore binds to the event loop that first awaits it.
        # Waiters are served by priority (longest cached prefix first; engines.slots).
        self._sem: PrioritySlots | None = None
        self.pinned = False
        """Numbered slots placed by affinity (``engines.slots``); set before the first call."""
        self.spill = True
        """Pinned slots: may a request whose home slot is busy use an idle one."""

    def also_retry(
        self,
        *,
        transient: tuple[type[BaseException], ...] = (),
        status_errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        """Add an SDK's exception types once its client exists (SDKs are imported lazily,
        so they are not known when the loop is made)."""
        self.transient = (*self.transient, *transient)
        self.status_errors = (*self.status_errors, *status_errors)

    def _message(self, exc: BaseException) -> str:
        text = getattr(exc, "message", None) or str(exc)
        return redact(str(text), self.secrets)

    async def __call__(self, fn: Callable[[], Awaitable[T]]) -> tuple[T, int]:
        """Run ``fn`` (a fresh request per call) and return (result, retries used)."""
        if self._sem is None:
            self._sem = PrioritySlots(self.concurrency, pinned=self.pinned, spill=self.spill)
        async with self._sem.slot():
            attempt = 0
            while True:
                hint: float | None = None
                try:
                    result = await fn()
                except self.transient as exc:
                    hint = _retry_after(exc)
                    if attempt >= self.max_retries:
                        raise self._give_up(exc, attempt, None) from None
                except self.status_errors as exc:
                    status: int = getattr(exc, "status_code", 0)
                    if status not in RETRYABLE_STATUS and status < 500:
                        _count(attempt)
                        raise EngineCallError(
                            f"HTTP {status} from {self.name}: {self._message(exc)}",
                            attempt,
                            status,
                        ) from None
                    hint = _retry_after(exc)
                    if attempt >= self.max_retries:
                        raise self._give_up(exc, attempt, status) from None
                else:
                    _count(attempt)
                    return result, attempt
                delay = self.backoff_s * (2**attempt) * (0.5 + random.random())
                if hint is not None:
                    delay = max(delay, min(hint, MAX_RETRY_AFTER_S))
                attempt += 1
                await asyncio.sleep(delay)

    def _give_up(self, exc: BaseException, attempt: int, status: int | None) -> EngineCallError:
        _count(attempt)
        # The chained exception is dropped (``from None``): its repr may hold headers.
        return EngineCallError(
            f"{type(exc).__name__} after {attempt} retries: {self._message(exc)}",
            attempt,
            status,
            transport=status is None and not isinstance(exc, RetryableStatus | BadResponse),
        )


def note_repaired() -> None:
    """Record that a server text was repaired (lone surrogates replaced) in this block."""
    tally = _TALLY.get()
    while tally is not None:
        tally.repaired += 1
        tally = tally.parent


def _count(retries: int) -> None:
    tally = _TALLY.get()
    while tally is not None:
        tally.count += retries
        tally.calls.append(retries)
        tally = tally.parent
