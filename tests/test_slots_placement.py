"""Cache-aware slot placement (engines.slots, pinned): a sweep's requests go to the slot
holding its prefix, the trace's own slot first, new questions never evict a live one, and
a request spills onto an idle slot only when allowed and nobody new is waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from overthink.engines.slots import (
    PrioritySlots,
    current_slot,
    request_affinity,
    request_priority,
)


async def _hold(
    slots: PrioritySlots, key: Hashable | None, seen: list[tuple[str, int | None]], name: str,
    release: asyncio.Event | None = None, *, long: bool = False,
) -> None:  # fmt: skip
    async def body() -> None:
        with request_priority(0.0, long=long):
            async with slots.slot():
                seen.append((name, current_slot()))
                if release is not None:
                    await release.wait()

    if key is None:
        await body()
    else:
        with request_affinity(key):
            await body()


def test_a_keys_requests_wait_for_its_slot_while_new_questions_wait() -> None:
    async def go() -> list[tuple[str, int | None]]:
        slots = PrioritySlots(2, pinned=True)
        seen: list[tuple[str, int | None]] = []
        a, b, c = "a", "b", "c"
        trace_a, trace_b = asyncio.Event(), asyncio.Event()
        with request_affinity(a):  # a's sweep is in progress throughout
            tasks = [asyncio.ensure_future(_hold(slots, a, seen, "trace-a", trace_a, long=True))]
            await asyncio.sleep(0)
            tasks.append(asyncio.ensure_future(_hold(slots, b, seen, "trace-b", trace_b)))
            await asyncio.sleep(0)
            # c is new and waits; a's answer waits for a's slot rather than spill.
            tasks.append(asyncio.ensure_future(_hold(slots, c, seen, "new-c")))
            tasks.append(asyncio.ensure_future(_hold(slots, a, seen, "answer-a")))
            await asyncio.sleep(0.01)
            assert [n for n, _ in seen] == ["trace-a", "trace-b"]
            trace_a.set()
            await asyncio.sleep(0.01)
            # a's slot went to a's answer (its prefix is there), not to the new question.
            assert seen[2] == ("answer-a", seen[0][1])
            trace_b.set()
            await asyncio.gather(*tasks)
        return seen

    seen = asyncio.run(go())
    assert [n for n, _ in seen] == ["trace-a", "trace-b", "answer-a", "new-c"]
    assert {slot for _, slot in seen} == {0, 1}


def test_a_request_spills_onto_an_idle_slot_only_when_allowed() -> None:
    async def go(spill: bool) -> list[tuple[str, int | None]]:
        slots = PrioritySlots(3, pinned=True, spill=spill)
        seen: list[tuple[str, int | None]] = []
        release = asyncio.Event()
        with request_affinity("q"):
            trace = asyncio.ensure_future(_hold(slots, "q", seen, "trace", release, long=True))
            await asyncio.sleep(0)
            answer = asyncio.ensure_future(_hold(slots, "q", seen, "cut"))
            await asyncio.sleep(0.01)
            release.set()
            await asyncio.gather(trace, answer)
        return seen

    spilled = asyncio.run(go(True))
    assert spilled[1][0] == "cut" and spilled[1][1] != spilled[0][1]
    waited = asyncio.run(go(False))
    assert waited == [("trace", waited[0][1]), ("cut", waited[0][1])]


def test_the_traces_slot_is_preferred_over_one_that_answered() -> None:
    async def go() -> list[tuple[str, int | None]]:
        slots = PrioritySlots(2, pinned=True)
        seen: list[tuple[str, int | None]] = []
        release = asyncio.Event()
        with request_affinity("q"):
            trace = asyncio.ensure_future(_hold(slots, "q", seen, "trace", release, long=True))
            await asyncio.sleep(0)
            await _hold(slots, "q", seen, "cut-8")  # spilled: the trace holds its slot
            release.set()
            await trace
            await _hold(slots, "q", seen, "cut-96")
        return seen

    seen = asyncio.run(go())
    assert seen[1][1] != seen[0][1]
    assert seen[2] == ("cut-96", seen[0][1])


def test_unpinned_slots_name_no_slot_and_ignore_keys() -> None:
    async def go() -> list[tuple[str, int | None]]:
        slots = PrioritySlots(2)
        seen: list[tuple[str, int | None]] = []
        await _hold(slots, "q", seen, "one")
        await _hold(slots, None, seen, "two")
        return seen

    assert asyncio.run(go()) == [("one", None), ("two", None)]


def test_a_new_question_takes_an_active_ones_answer_slot_not_its_trace_slot() -> None:
    async def go() -> list[tuple[str, int | None]]:
        slots = PrioritySlots(2, pinned=True)
        seen: list[tuple[str, int | None]] = []
        release = asyncio.Event()
        with request_affinity("q"):
            trace = asyncio.ensure_future(_hold(slots, "q", seen, "trace", release, long=True))
            await asyncio.sleep(0)
            await _hold(slots, "q", seen, "cut-8")  # spilled onto the other slot
            release.set()
            await trace
            # q is still in progress and owns both slots; r must take one of them.
            await _hold(slots, "r", seen, "new-r")
        return seen

    seen = asyncio.run(go())
    assert seen[2] == ("new-r", seen[1][1])
