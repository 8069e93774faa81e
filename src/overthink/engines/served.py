"""What each request cost on the server, for finding where a run's wall time goes.

llama.cpp answers every completion (and the last event of a stream) with ``timings``:
``prompt_n`` tokens prefilled (not served from the prompt cache), ``cache_n`` served from
it, ``prompt_ms`` spent prefilling, ``predicted_n``/``predicted_ms`` decoded. An engine
given a :class:`RequestLog` notes those, with the client-side start and end of each
request (after it got a slot), so a benchmark can split a run's slot-seconds into
prefill, decode, HTTP/Python overhead and idle slots. Servers without ``timings`` leave
those fields at zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestLog", "ServedRequest"]


@dataclass(frozen=True)
class ServedRequest:
    """One request: client-side times (``time.perf_counter``) and the server's timings."""

    kind: str
    started: float
    ended: float
    prompt_n: int = 0
    cache_n: int = 0
    prompt_ms: float = 0.0
    predicted_n: int = 0
    predicted_ms: float = 0.0
    slot: int | None = None
    """The ``id_slot`` the request was pinned to, if any."""
    payload: dict[str, Any] | None = field(default=None, compare=False)
    """The request's JSON body (``RequestLog.keep_payloads``), to replay the same work."""


def _number(timings: dict[str, Any], key: str) -> float:
    value = timings.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


@dataclass
class RequestLog:
    """Requests in the order they ended."""

    requests: list[ServedRequest] = field(default_factory=list)
    keep_payloads: bool = False

    def add(
        self,
        kind: str,
        started: float,
        ended: float,
        timings: Any,
        slot: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Note one finished request (``timings``: the response's ``timings`` object)."""
        t = timings if isinstance(timings, dict) else {}
        request = ServedRequest(
            kind=kind, started=started, ended=ended,
            prompt_n=int(_number(t, "prompt_n")), cache_n=int(_number(t, "cache_n")),
            prompt_ms=_number(t, "prompt_ms"),
            predicted_n=int(_number(t, "predicted_n")), predicted_ms=_number(t, "predicted_ms"),
            slot=slot, payload=payload if self.keep_payloads else None,
        )  # fmt: skip
        self.requests.append(request)

    def summary(self, started: float, ended: float, slots: int) -> dict[str, float]:
        """Where ``slots`` slots' time between ``started`` and ``ended`` went.

        ``busy`` is the share of slot-seconds with a request of ours in flight (the rest
        idle); ``prefill``/``decode`` split the server-reported compute time; ``overhead``
        is in-flight time the server did not report as compute (HTTP, queueing inside the
        server, Python); ``cache_hit`` the share of prompt tokens served from cache.
        """
        wall = max(ended - started, 1e-9)
        capacity = wall * max(1, slots)
        in_flight = sum(min(r.ended, ended) - max(r.started, started) for r in self.requests)
        prefill = sum(r.prompt_ms for r in self.requests) / 1000
        decode = sum(r.predicted_ms for r in self.requests) / 1000
        prompt_n = sum(r.prompt_n for r in self.requests)
        cache_n = sum(r.cache_n for r in self.requests)
        return {
            "requests": float(len(self.requests)),
            "wall_s": wall,
            "busy": in_flight / capacity,
            "prefill": prefill / capacity,
            "decode": decode / capacity,
            "overhead": max(0.0, in_flight - prefill - decode) / capacity,
            "idle": max(0.0, capacity - in_flight) / capacity,
            "prefill_tokens": float(prompt_n),
            "cached_tokens": float(cache_n),
            "cache_hit": cache_n / (prompt_n + cache_n) if prompt_n + cache_n else 0.0,
            "decoded_tokens": float(sum(r.predicted_n for r in self.requests)),
        }
