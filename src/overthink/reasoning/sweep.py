"""Prefix-shared forced sweeps: one thinking trace at the largest cap serves every cap.

For forced budgets with the same prompt and seed, generation up to a smaller cap is a
prefix of generation up to a larger one. We stream one trace at the largest cap and, as
soon as it has passed a smaller cap, cut it there on an exact token boundary (token bytes
from the server's logprobs) and force that cut's answer on another slot while the trace
keeps going; the prompt cache makes those answers cheap.

A cut is taken during the stream only where it is exact (see ``engines.streaming``): from
the streamed bytes, or — past text the server held back — from the token ids through
``/detokenize``. A cut the trace never passed gets the whole trace (it ended first); the
rare cut that falls inside the closing stop string is re-generated on its own, exactly as
a separate run would.

At temperature 0 in deterministic mode (one request in flight, no prompt-cache reuse) the
answers equal those of separate runs: the answers then simply wait for the trace's slot.
Otherwise the engine is not batch-invariant and a shared sweep is a sampling-equivalent
estimate, not a bit-identical one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from overthink.core import BudgetMode, Trial
from overthink.engines.base import CompletionResult, Engine, StreamState
from overthink.engines.retry import tally_retries
from overthink.engines.slots import request_affinity, request_priority, slot_wait_meter
from overthink.reasoning.forcing import ForcedTrace, force_thinking, thinking_prefix
from overthink.reasoning.generate import THINK_FIRST, Generation, answer_forced, build_messages
from overthink.reasoning.latency import cut_latency

__all__ = ["CutTiming", "can_share", "forced_sweep", "prefix_priority"]

# Rough characters per token, only to order requests by prefix length across questions.
_CHARS_PER_TOKEN = 4


def prefix_priority(prefix: str, reasoning_tokens: int = 0, *, answer: bool = False) -> float:
    """Scheduling priority of a request continuing ``prefix`` (longest prefix first).

    Forced answers rank above a trace with the same prefix: they finish a question whose
    prefix is already cached in a slot.
    """
    return len(prefix) / _CHARS_PER_TOKEN + reasoning_tokens + (0.5 if answer else 0.0)


def can_share(trials: list[Trial]) -> bool:
    """True when ``trials`` differ only in a plain forced cap (no minimum, no waits)."""
    if len(trials) < 2:
        return False
    first = trials[0]
    for t in trials:
        b = t.budget
        if b.mode is not BudgetMode.FORCED or b.min_tokens > 0 or b.max_waits > 0:
            return False
        same = (
            t.sample == first.sample and t.model == first.model and t.seed == first.seed
            and t.temperature == first.temperature and t.sample_index == first.sample_index
            and t.max_answer_tokens == first.max_answer_tokens
        )  # fmt: skip
        if not same:
            return False
    return True


@dataclass
class CutTiming:
    """When one cut was ready and how long its answer took (seconds).

    ``reached_s`` is measured from the start of the sweep to the moment the trace had
    passed the cut (or ended); ``answer_s`` from then to the end of the forced answer,
    waiting for a slot included. A record's latency is their sum: the time a separate run
    at that cap would have needed on this schedule, not the whole trace's time.
    """

    reached_s: float = 0.0
    answer_s: float = 0.0
    during_stream: bool = False
    """True when the answer was fired while the trace was still streaming."""


def _cut_from_trace(prefix: str, top: CompletionResult, cap: int) -> ForcedTrace | None:
    """The trace of ``cap`` once ``top`` has ended, or None when it must be re-generated.

    A cap at or beyond the trace's length gets the whole trace (it stopped first, or it is
    the largest cap). A smaller cap not taken during the stream falls inside a stop string
    whose token bytes the stream held back: only a separate request reproduces it exactly.
    """
    if cap >= top.completion_tokens:
        return ForcedTrace(
            prefix=prefix,
            reasoning=top.text,
            # The server's own count, unclamped: a server that overshot max_tokens is
            # flagged as a budget violation instead of hidden.
            tokens=top.completion_tokens,
            prompt_tokens=top.prompt_tokens,
            hit_cap=top.finish_reason == "length",
        )
    return None


async def forced_sweep(
    engine: Engine, trials: list[Trial], *, timings: list[CutTiming] | None = None
) -> list[Generation]:
    """Generations for every trial (same order) from one streamed trace at the largest cap.

    ``timings``, when given, receives one ``CutTiming`` per trial (same order).
    """
    # One affinity key per sweep: its requests go where its prefix is cached (slots).
    with request_affinity(object()):
        return await _forced_sweep(engine, trials, timings)


async def _forced_sweep(
    engine: Engine, trials: list[Trial], timings: list[CutTiming] | None
) -> list[Generation]:
    first = trials[0]
    started = time.perf_counter()
    with tally_retries() as render_tally:
        prefix, template_opened = await thinking_prefix(engine, build_messages(first, THINK_FIRST))
    top_cap = max(t.budget.tokens for t in trials)
    by_cap: dict[int, list[int]] = {}
    for i, t in enumerate(trials):
        by_cap.setdefault(t.budget.tokens, []).append(i)
    cut_timing = [CutTiming() for _ in trials]
    answers: dict[int, asyncio.Task[Generation]] = {}
    streaming = True

    def resolved(cap: int, thinking: list[dict[str, Any]], fallback: bool) -> dict[str, Any]:
        out = {
            **engine.describe(),
            "budget": f"forced:{cap}",
            "enforcement": "forced",
            "prefix_shared": True,
            "shared_trace_cap": top_cap,
            "reasoning_cap": cap,
            "system": THINK_FIRST,
            "think_markers": [engine.think_open, engine.think_close],
            "template_opens_thinking": template_opened,
            "thinking_requests": thinking,
        }
        if fallback:
            out["cut_regenerated"] = True
        return out

    async def answer(i: int, trace: ForcedTrace, thinking: list[dict[str, Any]],
                     retries: int, fallback: bool, fired: float,
                     ids: list[int] | None, reached: float | None) -> Generation:  # fmt: skip
        trial = trials[i]
        cap = trial.budget.tokens
        with tally_retries() as tally, slot_wait_meter() as waited:
            if ids is not None:
                # Past held-back text the streamed bytes are shifted; ids are not.
                trace.reasoning = await engine.detokenize(ids)
            generation = await answer_forced(
                engine, trial, trace, enforced_cap=cap,
                resolved={**resolved(cap, thinking, fallback), "budget": trial.budget.label},
                retries=retries,
            )  # fmt: skip
        generation.retries = max(generation.retries, retries + tally.count)
        timing = cut_timing[i]
        timing.reached_s = fired - started if reached is None else reached
        # Its own answer only: time queued for a slot behind other requests is not its cost.
        timing.answer_s = max(0.0, time.perf_counter() - fired - waited[0])
        generation.latency_s = timing.reached_s + timing.answer_s
        return generation

    def fire(cap: int, trace: ForcedTrace, thinking: list[dict[str, Any]], retries: int,
             fallback: bool = False, ids: list[int] | None = None,
             reached: float | None = None) -> None:  # fmt: skip
        fired = time.perf_counter()
        # Longest prefix first: this answer continues the prefix plus ``cap`` tokens.
        with request_priority(prefix_priority(prefix, cap, answer=True)):
            for i in by_cap.pop(cap):
                cut_timing[i].during_stream = streaming
                answers[i] = asyncio.ensure_future(
                    answer(i, trace, thinking, retries, fallback, fired, ids, reached)
                )

    # Cap 0 needs no trace at all: answer it at once.
    if 0 in by_cap:
        fire(0, ForcedTrace(prefix=prefix), [], render_tally.count)
    pending_caps = sorted(c for c in by_cap if c > 0)

    streamed: list[int] = []
    """Trials whose cut was taken during the stream (their trace facts come at its end)."""

    def on_tokens(state: StreamState) -> None:
        # A cut before ``exact`` (bytes final, followed by another token), or before
        # ``released`` given ids, is what a separate run capped there produces: it hit its
        # cap with no stop string inside. Larger caps wait for more tokens.
        while pending_caps and pending_caps[0] < top_cap:
            cap = pending_caps[0]
            ids = None
            if cap > state.exact:
                if state.ids is None or cap > state.released:
                    break
                ids = state.ids[:cap]
            pending_caps.pop(0)
            streamed.extend(by_cap[cap])
            trace = ForcedTrace(
                prefix=prefix,
                reasoning=b"".join(state.pieces[:cap]).decode("utf-8", errors="replace"),
                tokens=cap,
                # Known when the stream ends; a placeholder so the answer does not count
                # the prompt with an extra request meanwhile.
                prompt_tokens=-1,
                hit_cap=True,
            )
            fire(cap, trace, [], render_tally.count, ids=ids)

    top: CompletionResult | None = None
    try:
        if pending_caps:
            # A long request: it leaves a slot free for the cuts' answers (engines.slots).
            trace_started = time.perf_counter()
            with request_priority(prefix_priority(prefix), long=True):
                top = await engine.complete_stream(
                    prefix,
                    max_tokens=top_cap,
                    temperature=first.temperature,
                    seed=first.seed,
                    stop=[engine.think_close],
                    on_tokens=on_tokens,
                )
            trace_s = time.perf_counter() - trace_started
            streaming = False
            if top.stream is not None:
                on_tokens(top.stream)  # the final state may settle more cuts
            top_retries = render_tally.count + top.retries
            for cap in list(pending_caps):
                cut = _cut_from_trace(prefix, top, cap)
                if cut is not None:
                    # Cut after the trace ended (no stream): charge the trace's share up
                    # to this cut, not the whole trace (reasoning.latency).
                    reached = cut_latency(
                        setup_s=trace_started - started, trace_s=trace_s,
                        trace_tokens=top.completion_tokens, cut_tokens=cap, answer_s=0.0,
                    )  # fmt: skip
                    fire(cap, cut, [top.request], top_retries, reached=reached)
                    continue
                # Inside a held-back stop string: generate this cap on its own.
                alone_started = time.perf_counter()
                with request_priority(prefix_priority(prefix)), tally_retries() as tally:
                    alone = await force_thinking(
                        engine, prefix, cap=cap, temperature=first.temperature, seed=first.seed
                    )
                reached = trace_started - started + time.perf_counter() - alone_started
                fire(cap, alone, alone.requests, render_tally.count + tally.count, True,
                     reached=reached)  # fmt: skip
            pending_caps.clear()
        streaming = False
        done = await asyncio.gather(*answers.values())
    except BaseException:
        for task in answers.values():
            task.cancel()
        await asyncio.gather(*answers.values(), return_exceptions=True)
        raise
    results = dict(zip(answers.keys(), done, strict=True))
    if top is not None:
        # Streamed cuts learn the trace's facts only now: its request produced their text.
        for i in streamed:
            gen = results[i]
            gen.prompt_tokens = top.prompt_tokens
            gen.retries += top.retries
            gen.resolved["thinking_requests"] = [top.request]
    if timings is not None:
        timings[:] = cut_timing
    return [results[i] for i in range(len(trials))]
