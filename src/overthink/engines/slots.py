"""Server slots handed out by priority: the request with the longest cached prefix first.

Every engine caps its requests in flight at its slot count. When more requests wait than
there are slots (a run keeps more questions in progress than slots, so a freed slot never
waits for Python to decide what to send), the next slot goes to the waiting request with
the highest priority, ties in arrival order. A prefix-shared sweep gives each forced answer
the priority of its prefix length, so the answers of questions already in progress (whose
prefix sits in a server slot's prompt cache) go before new questions' traces.

A long request (a sweep's thinking trace) may not take the last free slot of an engine
with two or more: one slot stays for the short forced answers, so a cut is answered while
its trace keeps going instead of after some trace ends.

The priority travels in a context variable, so the budget layer sets it around a call
without every engine method growing a parameter.

**Placement** (``pinned=True``, for servers whose slots a request can name: llama.cpp's
``id_slot``). Each permit is then a numbered server slot and each slot keeps its prompt
cache, so where a request runs decides how much prompt it re-computes. A task may carry an
affinity key (``request_affinity``: one per prefix-shared sweep); its requests go to the
slot its key used last (its "home"), which holds its prefix. While that slot is busy (the
trace streaming), a request waits for it — unless a slot no active key owns is free and no
new question is waiting for one, then it spills there (its cut answer pipelined on an idle
slot instead of waiting). Measured on CPU llama.cpp, prefill costs about what decoding does
per token, so re-computing a prefix on another slot is the main waste a sweep can avoid.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
import weakref
from collections.abc import AsyncIterator, Hashable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = [
    "PrioritySlots",
    "current_priority",
    "current_slot",
    "request_affinity",
    "request_priority",
    "slot_wait_meter",
]

_PRIORITY: ContextVar[float] = ContextVar("overthink_request_priority", default=0.0)
_LONG: ContextVar[bool] = ContextVar("overthink_request_long", default=False)
_WAITED: ContextVar[list[float] | None] = ContextVar("overthink_slot_wait", default=None)
_AFFINITY: ContextVar[Hashable | None] = ContextVar("overthink_request_affinity", default=None)
_SLOT: ContextVar[int | None] = ContextVar("overthink_slot", default=None)

_ACTIVE: dict[Hashable, int] = {}
"""Affinity keys in use (count of open ``request_affinity`` blocks): their slots are kept."""
_POOLS: weakref.WeakSet[PrioritySlots] = weakref.WeakSet()


@contextmanager
def slot_wait_meter() -> Iterator[list[float]]:
    """Seconds this task's engine calls inside the block waited for a slot (``box[0]``).

    A shared sweep charges each cut its own answer time; queueing behind other requests
    (one slot in ``--deterministic`` mode) is the run's scheduling, not the cut's cost.
    """
    box = [0.0]
    token = _WAITED.set(box)
    try:
        yield box
    finally:
        _WAITED.reset(token)


@contextmanager
def request_priority(priority: float, *, long: bool = False) -> Iterator[None]:
    """Engine calls made by this task inside the block wait with ``priority`` (higher first).

    ``long`` marks a long request (a thinking trace) that leaves one slot free for others.
    Tasks created inside the block inherit both (asyncio copies the context).
    """
    token = _PRIORITY.set(priority)
    long_token = _LONG.set(long)
    try:
        yield
    finally:
        _LONG.reset(long_token)
        _PRIORITY.reset(token)


@contextmanager
def request_affinity(key: Hashable) -> Iterator[None]:
    """Engine calls made by this task inside the block (and tasks it creates) share ``key``:
    on a pinned engine they go to the slot that holds the key's prefix (see the module)."""
    token = _AFFINITY.set(key)
    _ACTIVE[key] = _ACTIVE.get(key, 0) + 1
    try:
        yield
    finally:
        _AFFINITY.reset(token)
        _ACTIVE[key] -= 1
        if not _ACTIVE[key]:
            del _ACTIVE[key]
            # Its slots are free for others now: wake waiters of pools on this loop.
            for pool in list(_POOLS):
                pool.poke()


def current_slot() -> int | None:
    """The server slot this task's engine call holds (pinned engines), else None."""
    return _SLOT.get()


def current_priority() -> float:
    """The priority engine calls of this task wait with."""
    return _PRIORITY.get()


@dataclass(order=True)
class _Waiter:
    neg_priority: float
    order: int
    long: bool = field(compare=False)
    key: Hashable | None = field(compare=False)
    future: asyncio.Future[int] = field(compare=False)


class PrioritySlots:
    """A semaphore of ``n`` slots whose waiters are served highest priority first.

    ``pinned``: slots are numbered and placed by affinity key (see the module); a holder
    reads its slot with ``current_slot()``.
    """

    def __init__(self, n: int, *, pinned: bool = False, spill: bool = True) -> None:
        self.n = max(1, n)
        self.pinned = pinned
        self.spill = spill
        """Pinned: may a request whose home is busy run on an idle slot (re-computing its
        prefix there)? Worth it where prefill is cheap next to decoding (GPUs)."""
        self.busy = 0
        self._free = set(range(self.n))
        self._owner: list[Hashable | None] = [None] * self.n
        self._used: list[int] = [0] * self.n
        """When each slot was last handed out (a counter): least recently used is evicted."""
        self._deep = [False] * self.n
        """Whether a slot's last holder was a long request (a trace) of its owner."""
        self._waiters: list[_Waiter] = []
        self._order = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        _POOLS.add(self)

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return sum(not w.future.done() for w in self._waiters)

    def _limit(self, long: bool) -> int:
        """Slots a request may fill: all but one for a long request (when there are two)."""
        return self.n - 1 if long and self.n > 1 else self.n

    @asynccontextmanager
    async def slot(self, priority: float | None = None) -> AsyncIterator[None]:
        """Hold one slot for the block; wait (by priority) while all are busy."""
        queued = time.perf_counter()
        index = await self._acquire(
            current_priority() if priority is None else priority, _LONG.get(), _AFFINITY.get()
        )
        box = _WAITED.get()
        if box is not None:
            box[0] += time.perf_counter() - queued
        token = _SLOT.set(index if self.pinned else None)
        try:
            yield
        finally:
            _SLOT.reset(token)
            self._release(index)

    async def _acquire(self, priority: float, long: bool = False, key: Hashable = None) -> int:
        self._loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = self._loop.create_future()
        heapq.heappush(self._waiters, _Waiter(-priority, next(self._order), long, key, future))
        # Free slots are handed to waiters in priority order: a request finding one free
        # never jumps a live waiter that may take it.
        self._grant()
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # Granted just as we were cancelled: pass the slot on.
                self._release(future.result())
            raise

    def _release(self, index: int) -> None:
        self.busy -= 1
        self._free.add(index)
        self._grant()

    def poke(self) -> None:
        """Re-run placement (an affinity key ended) when called on this pool's loop."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if running is self._loop:
            self._grant()

    def unpin(self) -> None:
        """Stop placing by affinity (``engines.pinning`` found the server shared): free
        slots go to waiters by priority alone from now on, and holders get no slot number."""
        self.pinned = False
        self.poke()

    def _spare(self) -> list[int]:
        """Free slots no active key owns, least recently used first."""
        spare = [s for s in self._free if self._owner[s] is None or self._owner[s] not in _ACTIVE]
        return sorted(spare, key=lambda s: self._used[s])

    def _eviction_order(self, slot: int) -> tuple[bool, int]:
        """Sort key of slots to take from their owner: answer slots before trace slots,
        least recently used first."""
        return self._deep[slot], self._used[slot]

    def _place(self, w: _Waiter, unplaced_waiting: bool) -> int | None:
        """The free slot waiter ``w`` may take now, or None."""
        if not self.pinned or w.key is None:
            if self.busy >= self._limit(w.long) or not self._free:
                return None
            spare = self._spare()
            # No spare slot: evict a trace's slot last (its answers are still to come).
            return spare[0] if spare else min(self._free, key=self._eviction_order)
        homes = [s for s in range(self.n) if self._owner[s] == w.key]
        free_homes = [s for s in homes if s in self._free]
        if free_homes:
            # The trace's own slot first: it holds the prefix and the whole trace, so every
            # cut shares at least as long a prefix with it as with a slot that answered.
            return max(free_homes, key=lambda s: (self._deep[s], self._used[s]))
        spare = self._spare()
        if not homes:
            if spare:
                return spare[0]
            # Another active key's extra slot (it has a home besides) before none at all.
            owners = [self._owner[s] for s in range(self.n)]
            extra = [s for s in self._free if owners.count(self._owner[s]) > 1]
            if not extra and self.busy == 0:
                extra = list(self._free)  # never an idle server while work waits
            return min(extra, key=self._eviction_order) if extra else None
        # Home busy: spill onto an idle slot only when no new question waits for one.
        return spare[0] if self.spill and spare and not unplaced_waiting else None

    def _grant(self) -> None:
        """Hand free slots to the best waiters that may take them."""
        self._waiters = [w for w in self._waiters if not w.future.done()]  # drop cancelled
        self._waiters.sort()
        while self._free and self._waiters:
            keys = {self._owner[s] for s in range(self.n)}
            unplaced = any(w.key is None or w.key not in keys for w in self._waiters)
            for w in self._waiters:
                index = self._place(w, unplaced)
                if index is not None:
                    break
            else:
                return
            self._waiters.remove(w)
            self._free.discard(index)
            self.busy += 1
            self._used[index] = next(self._order)
            if self.pinned:
                # A short request continuing the same key's trace keeps the slot deep.
                self._deep[index] = w.long or (self._deep[index] and self._owner[index] == w.key)
                self._owner[index] = w.key
            w.future.set_result(index)
