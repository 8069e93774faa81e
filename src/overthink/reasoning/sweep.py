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
a separate run would. An engine that cannot stream hands over the whole trace at its end;
every cut is then taken from it, charged its share of the trace's time
(``reasoning.latency``).

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

    ``reached_s`` runs from the start of the sweep to the moment the trace had passed the
    cut; a cut taken after the trace ended (it did not stream, or ended first) is charged
    the set-up plus the trace's share up to the cut instead, and a re-generated one the
    set-up plus its own thinking request. ``answer_s`` runs from then
    to the end of the forced answer, time spent queued for a slot excluded. A record's
    latency is their sum: the time a separate run at that cap would have needed on this
    schedule, not the whole trace's time.
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


@dataclass
class _Cut:
    """A cut ready for its forced answer: its thinking trace and what getting it cost."""

    cap: int
    trace: ForcedTrace
    thinking: list[dict[str, Any]]
    """The requests that produced the trace (a streamed cut learns its trace's at the end)."""
    retries: int
    regenerated: bool = False
    """Generated on its own: it fell inside a stop string the stream held back."""
    ids: list[int] | None = None
    """Token ids of a cut past held-back text, whose streamed bytes are shifted."""
    reached: float | None = None
    """Seconds from the sweep's start to this cut; None: the moment its answer is fired."""


@dataclass(frozen=True)
class _TraceClock:
    """When the ended trace ran: what a cut taken after it is charged (reasoning.latency)."""

    setup_s: float
    """From the sweep's start to the trace request (prompt rendering)."""
    trace_s: float
    tokens: int

    def reached(self, cap: int) -> float:
        """Seconds to reach a cut at ``cap``: set-up plus the trace's share up to it."""
        return cut_latency(
            setup_s=self.setup_s, trace_s=self.trace_s, trace_tokens=self.tokens,
            cut_tokens=cap, answer_s=0.0,
        )  # fmt: skip


class _Sweep:
    """The state of one prefix-shared sweep: caps still waiting for their cut, the answers
    fired so far and each trial's ``CutTiming``."""

    def __init__(
        self,
        engine: Engine,
        trials: list[Trial],
        prefix: tuple[str, bool],
        render_retries: int,
        started: float,
    ) -> None:
        self.engine = engine
        self.trials = trials
        self.first = trials[0]
        self.prefix, self.template_opened = prefix
        self.render_retries = render_retries
        """Retries spent rendering the prompt: every cut's trace needed it."""
        self.started = started
        self.top_cap = max(t.budget.tokens for t in trials)
        self.by_cap: dict[int, list[int]] = {}
        """Trials (indices) per cap whose answer is not fired yet."""
        for i, t in enumerate(trials):
            self.by_cap.setdefault(t.budget.tokens, []).append(i)
        self.pending = sorted(c for c in self.by_cap if c > 0)
        """Caps waiting for the trace, smallest first (cap 0 needs none)."""
        self.timing = [CutTiming() for _ in trials]
        self.answers: dict[int, asyncio.Task[Generation]] = {}
        self.streamed: list[int] = []
        """Trials whose cut was taken from the stream's state (the trace's facts: at its end)."""
        self.streaming = True
        self.ended: _TraceClock | None = None
        """Set when the trace has ended: cuts taken after it are charged their share."""

    @classmethod
    async def open(cls, engine: Engine, trials: list[Trial]) -> _Sweep:
        """Render the shared prompt (timed from here) and set the sweep up."""
        started = time.perf_counter()
        with tally_retries() as render_tally:
            prefix = await thinking_prefix(engine, build_messages(trials[0], THINK_FIRST))
        return cls(engine, trials, prefix, render_tally.count, started)

    async def run(self) -> list[Generation]:
        """Fire every cut's answer and return the generations in trial order."""
        # Cap 0 needs no trace at all: answer it at once.
        if 0 in self.by_cap:
            self._fire(_Cut(0, ForcedTrace(prefix=self.prefix), [], self.render_retries))
        top: CompletionResult | None = None
        try:
            if self.pending:
                top = await self._trace()
            self.streaming = False
            done = await asyncio.gather(*self.answers.values())
        except BaseException:
            for task in self.answers.values():
                task.cancel()
            await asyncio.gather(*self.answers.values(), return_exceptions=True)
            raise
        results = dict(zip(self.answers.keys(), done, strict=True))
        if top is not None:
            self._credit_trace(results, top)
        return [results[i] for i in range(len(self.trials))]

    async def _trace(self) -> CompletionResult:
        """Stream the trace at the largest cap, firing cuts as it passes them, then settle
        the caps it did not pass."""
        # A long request: it leaves a slot free for the cuts' answers (engines.slots).
        trace_started = time.perf_counter()
        with request_priority(prefix_priority(self.prefix), long=True):
            top = await self.engine.complete_stream(
                self.prefix,
                max_tokens=self.top_cap,
                temperature=self.first.temperature,
                seed=self.first.seed,
                stop=[self.engine.think_close],
                on_tokens=self._on_tokens,
            )
        trace_s = time.perf_counter() - trace_started
        self.streaming = False
        clock = _TraceClock(trace_started - self.started, trace_s, top.completion_tokens)
        self.ended = clock
        if top.stream is not None:
            # The final state may settle more cuts (all of them when it did not stream).
            self._on_tokens(top.stream)
        await self._settle(top, clock)
        return top

    def _on_tokens(self, state: StreamState) -> None:
        """Fire the answer of every pending cap the stream has now passed exactly."""
        while self.pending and self.pending[0] < self.top_cap:
            cut = self._streamed_cut(state, self.pending[0])
            if cut is None:
                break  # larger caps wait for more tokens
            self.pending.pop(0)
            self.streamed.extend(self.by_cap[cut.cap])
            self._fire(cut)

    def _streamed_cut(self, state: StreamState, cap: int) -> _Cut | None:
        """The cut at ``cap`` if the stream vouches for it, else None.

        A cut before ``exact`` (bytes final, followed by another token), or before
        ``released`` given ids, is what a separate run capped there produces: it hit its
        cap with no stop string inside.
        """
        ids = None
        if cap > state.exact:
            if state.ids is None or cap > state.released:
                return None
            ids = state.ids[:cap]
        trace = ForcedTrace(
            prefix=self.prefix,
            reasoning=b"".join(state.pieces[:cap]).decode("utf-8", errors="replace"),
            tokens=cap,
            # Known when the stream ends; a placeholder so the answer does not count
            # the prompt with an extra request meanwhile.
            prompt_tokens=-1,
            hit_cap=True,
        )
        # Taken after the trace ended: the whole trace's time is not this cut's cost.
        reached = None if self.ended is None else self.ended.reached(cap)
        return _Cut(cap, trace, [], self.render_retries, ids=ids, reached=reached)

    async def _settle(self, top: CompletionResult, clock: _TraceClock) -> None:
        """Cut the caps the stream did not settle from the ended trace, or re-generate them."""
        top_retries = self.render_retries + top.retries
        for cap in list(self.pending):
            cut = _cut_from_trace(self.prefix, top, cap)
            if cut is None:
                await self._regenerate(cap, clock.setup_s)
                continue
            reached = clock.reached(cap)
            self._fire(_Cut(cap, cut, [top.request], top_retries, reached=reached))
        self.pending.clear()

    async def _regenerate(self, cap: int, setup_s: float) -> None:
        """Generate the thinking of a cap inside a held-back stop string on its own."""
        alone_started = time.perf_counter()
        with request_priority(prefix_priority(self.prefix)), tally_retries() as tally:
            alone = await force_thinking(
                self.engine, self.prefix, cap=cap,
                temperature=self.first.temperature, seed=self.first.seed,
            )  # fmt: skip
        reached = setup_s + time.perf_counter() - alone_started
        retries = self.render_retries + tally.count
        self._fire(_Cut(cap, alone, alone.requests, retries, regenerated=True, reached=reached))

    def _fire(self, cut: _Cut) -> None:
        """Start the forced answers of every trial at ``cut.cap``."""
        fired = time.perf_counter()
        # Longest prefix first: this answer continues the prefix plus ``cap`` tokens.
        with request_priority(prefix_priority(self.prefix, cut.cap, answer=True)):
            for i in self.by_cap.pop(cut.cap):
                self.timing[i].during_stream = self.streaming
                self.answers[i] = asyncio.ensure_future(self._answer(i, cut, fired))

    async def _answer(self, i: int, cut: _Cut, fired: float) -> Generation:
        """Trial ``i``'s forced answer after ``cut``, with its ``CutTiming`` filled in."""
        trial = self.trials[i]
        cap = trial.budget.tokens
        with tally_retries() as tally, slot_wait_meter() as waited:
            if cut.ids is not None:
                # Past held-back text the streamed bytes are shifted; ids are not.
                cut.trace.reasoning = await self.engine.detokenize(cut.ids)
            generation = await answer_forced(
                self.engine, trial, cut.trace, enforced_cap=cap,
                resolved={**self._resolved(cap, cut), "budget": trial.budget.label},
                retries=cut.retries,
            )  # fmt: skip
        generation.retries = max(generation.retries, cut.retries + tally.count)
        timing = self.timing[i]
        timing.reached_s = fired - self.started if cut.reached is None else cut.reached
        # Its own answer only: time queued for a slot behind other requests is not its cost.
        timing.answer_s = max(0.0, time.perf_counter() - fired - waited[0])
        generation.latency_s = timing.reached_s + timing.answer_s
        return generation

    def _resolved(self, cap: int, cut: _Cut) -> dict[str, Any]:
        """What a record of ``cap`` resolved to (its ``resolved`` dict before the answer)."""
        out = {
            **self.engine.describe(),
            "budget": f"forced:{cap}",
            "enforcement": "forced",
            "prefix_shared": True,
            "shared_trace_cap": self.top_cap,
            "reasoning_cap": cap,
            "system": THINK_FIRST,
            "think_markers": [self.engine.think_open, self.engine.think_close],
            "template_opens_thinking": self.template_opened,
            "thinking_requests": cut.thinking,
        }
        if cut.regenerated:
            out["cut_regenerated"] = True
        return out

    def _credit_trace(self, results: dict[int, Generation], top: CompletionResult) -> None:
        """Streamed cuts learn the trace's facts only now: its request produced their text."""
        for i in self.streamed:
            gen = results[i]
            gen.prompt_tokens = top.prompt_tokens
            gen.retries += top.retries
            gen.resolved["thinking_requests"] = [top.request]


async def forced_sweep(
    engine: Engine, trials: list[Trial], *, timings: list[CutTiming] | None = None
) -> list[Generation]:
    """Generations for every trial (same order) from one streamed trace at the largest cap.

    ``timings``, when given, receives one ``CutTiming`` per trial (same order).
    """
    # One affinity key per sweep: its requests go where its prefix is cached (slots).
    with request_affinity(object()):
        sweep = await _Sweep.open(engine, trials)
        generations = await sweep.run()
    if timings is not None:
        timings[:] = sweep.timing
    return generations
