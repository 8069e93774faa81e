"""Whether to name llama.cpp slots (``id_slot``) on a server other clients may share.

Cache-aware placement (``engines.slots``) sends every completion to a numbered server slot.
That is right on a server whose slots are all ours: ``PrioritySlots`` hands each slot to
one of our requests at a time, so a named slot is always idle when we name it. On a server
shared with other clients it can stall a run: llama.cpp queues a request whose named slot
is busy (with someone else's generation) even while other slots are idle, where an
unnamed request would have run at once on an idle slot picked by prompt similarity.

``pin_slots`` chooses (``PIN_SLOTS_MODES``):

* ``auto`` (default): pin where the engine knows the slots (the embedded server, or a
  llama.cpp server whose ``/props`` gave ``total_slots``), guarded twice:

  - **at start**, llama.cpp's ``GET /slots`` (per-slot ``is_processing``; older servers
    ``state``): a slot already processing before our first request belongs to another
    client, so the run does not pin. A server that hides ``/slots`` (``--no-slots``: 501,
    older ones 404) or does not answer in ``SLOTS_TIMEOUT_S`` skips this guard;
  - **during the run**, each pinned completion's own ``timings``: client-side elapsed
    time minus the server's ``prompt_ms + predicted_ms`` is time spent queued at the
    server (plus HTTP overhead). We held that slot's permit throughout, so none of our
    requests was on it. Two things must hold before ``auto`` blames another client:

    1. the wait is longer than ``max(MIN_WAIT_S, the request's own service time)``: the
       floor keeps HTTP and event-loop jitter on a loaded machine from counting, and the
       ratio asks that the request took at least twice what the server spent on it;
    2. the server served *our other slots* meanwhile: a request of ours sent after the
       slow one finished before the slow one's service began (``EVIDENCE_MARGIN_S``).
       Waiting alone is not enough: on CPU llama.cpp runs one batch per step, and a step
       that prefills a long prompt (~500 tokens at ~100 tok/s: ~5 s) holds every new
       request, named or not. Such a step holds the later requests too, so none of them
       can finish first; a stranger's generation on the named slot holds that slot only.

    Then pinning stops for the rest of the run (requests go unnamed; llama.cpp picks an
    idle slot by prompt similarity, and ``PrioritySlots`` stops holding requests for
    their home slot). A run that sends one request at a time gives no such evidence and
    keeps pinning (a false negative costs the wait, a false positive the prompt cache).

* ``on``: pin wherever the slots are known and keep pinning whatever the guards would see
  (the server is known to be ours); waits that would have fired are still counted.
* ``off``: never name a slot.

The run manifest records the outcome per model (``placement``); the run summary prints a
line when ``auto`` dropped pinning.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from overthink.errors import ConfigError

if TYPE_CHECKING:
    import httpx

    from overthink.engines.retry import RetryLoop

__all__ = [
    "EVIDENCE_MARGIN_S",
    "MIN_WAIT_S",
    "PIN_SLOTS_MODES",
    "SLOTS_TIMEOUT_S",
    "SlotPlacement",
    "busy_slots",
    "check_pin_slots",
    "placement_of",
    "placement_warning",
    "server_wait",
]

PIN_SLOTS_MODES = ("auto", "on", "off")
"""Accepted values of the ``pin_slots`` setting."""
MIN_WAIT_S = 2.0
"""A pinned request must have waited at the server longer than this (and than its own
service time) before ``auto`` blames another client. On our own embedded server at load
average ~3 (2 cores, no other client) pinned requests waited up to 1.4 s (a 2.2 s
answer) and 1.0 s (a 0.3 s one): a long batch step, or a slot's prompt held for the next
step while lower-numbered slots fill the batch."""
SLOTS_TIMEOUT_S = 2.0
"""Seconds the start guard waits for ``GET /slots`` before skipping itself."""
EVIDENCE_MARGIN_S = 0.1
"""A later request of ours must have finished this long before the slow one's service
began (its start is estimated from the end minus the server's compute)."""
RECENT = 512
"""Completions remembered for the evidence (the run guard looks at the last ones only)."""


def check_pin_slots(value: str) -> str:
    """``value`` if it is a ``pin_slots`` mode, else a ``ConfigError`` naming the field."""
    if value not in PIN_SLOTS_MODES:
        raise ConfigError(f"pin_slots {value!r} is not one of {', '.join(PIN_SLOTS_MODES)}")
    return value


def _timings(resp: Any) -> dict[str, Any] | None:
    """A response's llama.cpp ``timings`` (an SDK object's extras, or a plain JSON dict)."""
    extra = resp if isinstance(resp, dict) else getattr(resp, "model_extra", None)
    timings = extra.get("timings") if isinstance(extra, dict) else None
    return timings if isinstance(timings, dict) else None


def _ms(timings: dict[str, Any], key: str) -> float | None:
    value = timings.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) / 1000


@dataclass(frozen=True)
class ServerWait:
    """Where one request's client-side time went: the server's compute, and the rest."""

    service_s: float
    """``prompt_ms + predicted_ms``: time the server computed this request."""
    wait_s: float
    """Client-side elapsed minus ``service_s``: queued at the server, plus HTTP overhead."""

    @property
    def slow(self) -> bool:
        """Waited clearly longer than it should have (see the module)."""
        return self.wait_s > max(MIN_WAIT_S, self.service_s)


def server_wait(elapsed_s: float, resp: Any) -> ServerWait | None:
    """Split ``elapsed_s`` with the response's ``timings``; None when it has none."""
    timings = _timings(resp)
    if timings is None:
        return None
    prompt, predicted = _ms(timings, "prompt_ms"), _ms(timings, "predicted_ms")
    if prompt is None or predicted is None:
        return None
    service = max(0.0, prompt) + max(0.0, predicted)
    return ServerWait(service_s=service, wait_s=max(0.0, elapsed_s - service))


async def busy_slots(
    http: httpx.AsyncClient, timeout_s: float = SLOTS_TIMEOUT_S
) -> list[int] | None:
    """Ids of the server's slots processing right now (llama.cpp ``GET /slots``).

    None when the server does not say: the endpoint is disabled (501) or missing (404),
    the answer is not a list of slots, or it does not come within ``timeout_s``.
    """
    import httpx  # here: config validation imports this module for PIN_SLOTS_MODES

    try:
        resp = await http.get("/slots", timeout=timeout_s)
        data = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
        return None
    busy: list[int] = []
    for index, slot in enumerate(data):
        processing = slot.get("is_processing")
        if processing is None:
            # Servers before is_processing: ``state`` 0 is idle, 1 processing.
            state = slot.get("state")
            processing = isinstance(state, int) and state != 0
        if processing:
            ident = slot.get("id")
            busy.append(ident if isinstance(ident, int) else index)
    return busy


class SlotPlacement:
    """One engine's ``pin_slots`` setting and what became of it during a run."""

    def __init__(self, mode: str = "auto") -> None:
        self.mode = check_pin_slots(mode)
        self.started = time.perf_counter()
        self.pinned_requests = 0
        """Completions sent with an ``id_slot``."""
        self.slow_requests = 0
        """Of those, how many waited for another client (both conditions of the module)."""
        self.max_wait_s = 0.0
        self._recent: deque[tuple[float, float]] = deque(maxlen=RECENT)
        """(sent, ended) of our latest completions, pinned or not."""
        self.why: str | None = None
        """Why ``auto`` stopped (or never started) pinning; None while it pins."""
        self.dropped_after_s: float | None = None
        self.start_check: str | None = None
        """``GET /slots`` before the run: ``idle``, ``busy`` or ``unavailable``."""

    def allows(self) -> bool:
        """May the engine pin (``off`` never; ``auto`` not after a guard fired)?"""
        return self.mode != "off" and self.why is None

    async def start(self, http: httpx.AsyncClient, retry: RetryLoop) -> None:
        """The start guard (``auto`` on a pinning engine): skip pinning on a busy server."""
        self.started = time.perf_counter()
        if self.mode != "auto" or not retry.pinned:
            return
        busy = await busy_slots(http)
        if busy is None:
            self.start_check = "unavailable"
            return
        self.start_check = "busy" if busy else "idle"
        if busy:
            listed = ", ".join(map(str, busy[:4])) + (" ..." if len(busy) > 4 else "")
            self._drop(
                retry,
                f"slot{'s' if len(busy) > 1 else ''} {listed} busy with another client "
                "before the run started (GET /slots)",
            )

    def observe(self, retry: RetryLoop, sent: float, resp: Any, payload: dict[str, Any]) -> None:
        """The run guard: note one finished completion (``payload``: its JSON body, with
        ``id_slot`` when it was pinned; ``sent``: ``time.perf_counter()`` at sending)."""
        ended = time.perf_counter()
        slot = payload.get("id_slot")
        pinned = isinstance(slot, int) and not isinstance(slot, bool)
        wait = server_wait(ended - sent, resp) if pinned else None
        # Before noting this one: the evidence is about the others.
        overtaken = self._overtaken(sent, ended - wait.service_s) if wait and wait.slow else 0
        self._recent.append((sent, ended))
        if not pinned:
            return
        self.pinned_requests += 1
        if wait is None or not overtaken:
            return
        self.slow_requests += 1
        self.max_wait_s = max(self.max_wait_s, wait.wait_s)
        if self.mode == "auto" and self.why is None:
            self._drop(
                retry,
                f"slot {slot} busy with another client: a request waited {wait.wait_s:.1f} s "
                f"at the server for {wait.service_s:.1f} s of work while {overtaken} later "
                "request(s) were served on other slots",
            )

    def _overtaken(self, sent: float, service_began: float) -> int:
        """Our requests sent after ``sent`` that were done before ``service_began``."""
        limit = service_began - EVIDENCE_MARGIN_S
        return sum(1 for s, e in self._recent if s > sent and e < limit)

    def _drop(self, retry: RetryLoop, why: str) -> None:
        self.why = why
        self.dropped_after_s = time.perf_counter() - self.started
        retry.unpin()

    def describe(self, pinned: bool) -> dict[str, Any]:
        """The manifest's ``placement`` entry (``pinned``: does the engine pin now)."""
        out: dict[str, Any] = {"pin_slots": self.mode, "pinned": pinned}
        if self.mode == "off":
            out["why"] = "pin_slots: off"
        elif self.why is not None:
            out["why"] = self.why
            out["dropped_after_s"] = round(self.dropped_after_s or 0.0, 3)
        if self.start_check is not None:
            out["start_check"] = self.start_check
        out["pinned_requests"] = self.pinned_requests
        if self.slow_requests:
            out["slow_requests"] = self.slow_requests
            out["max_wait_s"] = round(self.max_wait_s, 3)
        return out


def placement_of(engine: Any) -> dict[str, Any] | None:
    """An engine's ``placement`` entry, or None for engines that cannot name slots.

    A fleet (``EndpointPool``) gives one entry per endpoint URL.
    """
    placement = getattr(engine, "placement", None)
    if isinstance(placement, SlotPlacement):
        return placement.describe(bool(getattr(engine, "pin_slots", False)))
    endpoints = getattr(engine, "endpoints", None)
    if isinstance(endpoints, list):
        members = {
            str(getattr(e, "url", i)): entry
            for i, e in enumerate(endpoints)
            if (entry := placement_of(getattr(e, "engine", None))) is not None
        }
        return {"endpoints": members} if members else None
    return None


def placement_warning(placements: dict[str, dict[str, Any]]) -> str | None:
    """One summary line when ``auto`` stopped (or never started) pinning, else None."""
    dropped: list[str] = []
    for model, entry in placements.items():
        entries = entry.get("endpoints", {model: entry})
        for where, one in entries.items():
            if one.get("pin_slots") == "auto" and one.get("why"):
                dropped.append(f"{where}: {one['why']}")
    if not dropped:
        return None
    return (
        "server slots not named (id_slot), the server is shared: "
        + "; ".join(dropped)
        + " (pin_slots: on pins anyway)"
    )
