"""Latency of each cut of a prefix-shared sweep: the time to reach it plus its own answer.

Before issue #11 every record of a shared sweep carried the whole trace's time, so budget
0 "cost" as much latency as the largest budget and the latency Pareto front was wrong.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from helpers import run_experiment
from overthink.core import Budget, BudgetMode, Sample, Trial
from overthink.engines.embedded import EmbeddedServer
from overthink.reasoning.latency import cut_latency
from overthink.reasoning.sweep import CutTiming, forced_sweep
from overthink.testing import FakeEngine, FakeReply


def test_cut_latency_charges_the_share_of_the_trace_up_to_the_cut() -> None:
    def at(cut: int) -> float:
        return cut_latency(setup_s=0.1, trace_s=2.0, trace_tokens=200, cut_tokens=cut,
                           answer_s=0.3)  # fmt: skip

    assert at(0) == pytest.approx(0.4)  # set-up and answer, no thinking
    assert at(50) == pytest.approx(0.1 + 0.5 + 0.3)
    assert at(200) == pytest.approx(2.4)  # the whole trace
    assert at(400) == pytest.approx(2.4)  # a cap above the trace's length: all of it
    values = [at(c) for c in range(0, 260, 10)]
    assert values == sorted(values)
    # No trace at all (every cut at 0): nothing to share.
    assert cut_latency(setup_s=0.1, trace_s=0.0, trace_tokens=0, cut_tokens=0, answer_s=0.2) == (
        pytest.approx(0.3)
    )


@pytest.mark.engine
def test_latency_grows_with_the_budget_on_a_shared_sweep(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    _, _, records = run_experiment(
        tmp_path / "r", tasks=[{"name": "misleading_math", "knobs": {"distractors": [1]}}],
        samples=4, budgets="0,16,96", deterministic=True,
    )  # fmt: skip
    assert records and all(r.error is None for r in records)
    assert all(r.resolved.get("prefix_shared") for r in records if r.budget_tokens > 0)
    mean = {b: sum(r.latency_s for r in records if r.budget_tokens == b) / 4 for b in (0, 16, 96)}
    # Budget 0 pays set-up and its answer only; 96 also pays ~96 tokens of thinking.
    # (Before: every cut paid the whole trace, so these were about equal.)
    assert mean[0] < mean[96] * 0.8, mean
    assert mean[0] < mean[16] < mean[96], mean


def test_cuts_of_a_trace_that_could_not_stream_pay_only_their_share_of_it() -> None:
    """An engine that cannot stream (``EndpointPool``, ``FakeEngine``: the base
    ``Engine.complete_stream``) hands the sweep its whole trace at the end. A cut after 2
    of its 10 tokens is charged a fifth of the trace's time, as a separate run capped at 2
    would have spent, not all of it; and it was not answered during a stream."""
    sample = Sample(id="q1", task="t", prompt="What is 2+2?", target="4")
    caps = [0, 2, 20]
    trials = [
        Trial(sample=sample, model="fake", budget=Budget(mode=BudgetMode.FORCED, tokens=cap))
        for cap in caps
    ]
    # Every call takes 0.3 s: the trace (10 tokens) and each answer alike.
    engine = FakeEngine(
        reply=FakeReply(reasoning=" ".join(["hmm"] * 10), answer="4"), latency_s=0.3
    )
    timings: list[CutTiming] = []
    asyncio.run(forced_sweep(engine, trials, timings=timings))
    reached = {cap: t.reached_s for cap, t in zip(caps, timings, strict=True)}
    assert reached[20] >= 0.3  # the whole trace (it ended before its cap)
    assert reached[2] < 0.5 * reached[20], reached  # ~0.06 s: setup + 0.2 of the trace
    assert reached[0] < 0.5 * reached[20], reached  # set-up only
    assert [t.during_stream for t in timings[1:]] == [False, False]
