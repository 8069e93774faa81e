"""The exact requests of one prefix-shared sweep, pinned against ``FakeEngine``.

Every branch of ``reasoning.sweep`` in one small sweep: cap 0 (no trace), a cut taken from
the streamed bytes, one taken from the token ids past held-back text (``/detokenize``),
one inside text still held back when the trace ended (re-generated alone) and the
largest cap (the whole trace). The engine replays its completion as a llama.cpp stream
would, so any change to which requests a sweep sends, in which order, or what it records
shows up here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from overthink.core import Budget, BudgetMode, Sample, Trial
from overthink.engines.base import CompletionResult, TokenSink
from overthink.engines.streaming import ExactPrefix
from overthink.reasoning.sweep import CutTiming, forced_sweep
from overthink.testing import FakeEngine, FakeReply

WORDS = " ".join(f"w{i}" for i in range(1, 11))
HELD = {4, 5, 8, 9, 10}
"""Tokens whose text the stream holds back: 4 and 5 come out with 6 (so the bytes of a cut
after 5 tokens would be "w1 w2 w3"), 8-10 never do (a possible stop string at the end,
as llama.cpp holds it)."""


class StreamingFake(FakeEngine):
    """``FakeEngine`` whose ``complete_stream`` streams token by token with token ids,
    holding back the text of ``HELD`` tokens; it logs every prompt continued and every
    ``detokenize`` call."""

    def __init__(self) -> None:
        super().__init__(reply=FakeReply(reasoning=WORDS, answer="4"), concurrency=1)
        self.sent: list[tuple[int, str]] = []
        self.detokenized: list[list[int]] = []

    async def complete(self, prompt: str, **kwargs: Any) -> CompletionResult:
        self.sent.append((kwargs["max_tokens"], prompt.rpartition(self.think_open)[2]))
        return await super().complete(prompt, **kwargs)

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
        result = await self.complete(
            prompt, max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop,
            want_tokens=True,
        )  # fmt: skip
        tracker = ExactPrefix()
        pending = b""
        for token_id, piece in enumerate(result.token_bytes or [], start=1):
            pending += piece
            held = token_id in HELD
            tracker.add(b"" if held else pending, token_id)
            pending = pending if held else b""
            if on_tokens is not None:
                on_tokens(tracker.state)
            await asyncio.sleep(0)  # a stream: answers already fired run meanwhile
        result.stream = tracker.state
        return result

    async def detokenize(self, ids: list[int]) -> str:
        self.detokenized.append(list(ids))
        return "".join(f" w{i}" for i in ids)


def test_sweep_request_sequence_and_records_are_pinned() -> None:
    sample = Sample(id="q1", task="t", prompt="What is 2+2?", target="4")
    caps = [8, 0, 20, 2, 5]
    trials = [
        Trial(sample=sample, model="fake", budget=Budget(mode=BudgetMode.FORCED, tokens=cap))
        for cap in caps
    ]
    engine = StreamingFake()
    timings: list[CutTiming] = []
    gens = asyncio.run(forced_sweep(engine, trials, timings=timings))

    # The trace first; each streamed cut's answer as soon as the trace passed it (cap 0 at
    # once); the cut inside the held-back end re-generated alone, then the rest.
    think = [(20, "\n"), (8, "\n")]
    answers = {cap: (48, f"\n{_emit(cap)}\n</think>\nFinal answer:") for cap in (0, 2, 5, 8, 10)}
    answers[0] = (48, "\n\n</think>\nFinal answer:")
    assert engine.sent == [
        think[0],
        answers[0],
        answers[2],
        answers[5],
        think[1],
        answers[8],
        answers[10],
    ]
    # Past held-back text the cut comes from the ids, not the (shifted) bytes.
    assert engine.detokenized == [[1, 2, 3, 4, 5]]
    assert [t.during_stream for t in timings] == [False, True, False, True, True]
    assert all(g.latency_s == t.reached_s + t.answer_s for g, t in zip(gens, timings, strict=True))

    got = {
        cap: (
            g.reasoning, g.reasoning_tokens, g.truncated_in_reasoning, g.prompt_tokens,
            [r["max_tokens"] for r in g.resolved["thinking_requests"]],
            g.resolved.get("cut_regenerated", False),
        )
        for cap, g in zip(caps, gens, strict=True)
    }  # fmt: skip
    assert got == {
        0: ("", 0, False, 14, [], False),
        2: ("w1 w2", 2, True, 14, [20], False),
        5: ("w1 w2 w3 w4 w5", 5, True, 14, [20], False),
        8: ("w1 w2 w3 w4 w5 w6 w7 w8", 8, True, 14, [8], True),
        20: (WORDS, 10, False, 14, [20], False),
    }
    assert all(g.retries == 0 and g.answer_tokens == 1 for g in gens)
    trace_request = {"endpoint": "completion", "max_tokens": 20, "seed": 0,
                     "temperature": 0.0, "stop": ["</think>"]}  # fmt: skip
    assert list(gens[4].resolved.items()) == [
        ("engine", "StreamingFake"),
        ("deterministic", False),
        ("think_markers_from", "chat_template"),
        ("model", "fake"),
        ("budget", "forced:5"),
        ("enforcement", "forced"),
        ("prefix_shared", True),
        ("shared_trace_cap", 20),
        ("reasoning_cap", 5),
        ("system", "Think step by step before you answer."),
        ("think_markers", ["<think>", "</think>"]),
        ("template_opens_thinking", False),
        ("thinking_requests", [trace_request]),
        ("answer_request", {"endpoint": "completion", "max_tokens": 48, "seed": 0,
                            "temperature": 0.0, "stop": None}),
    ]  # fmt: skip
    regenerated = list(gens[0].resolved)
    assert regenerated[regenerated.index("thinking_requests") + 1] == "cut_regenerated"


def _emit(tokens: int) -> str:
    return "".join(f" w{i}" for i in range(1, tokens + 1))
