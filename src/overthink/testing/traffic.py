"""Seeded synthetic traffic for tests, benchmarks and the shipped example stream.

The generator builds in the trap the monitor must not fall into: each request has a
hidden difficulty h ~ U(0, 1); harder requests think longer *and* are more often wrong,
so the observational slope of quality on reasoning length is negative even when thinking
longer does not hurt. Only the randomised slice (tier drawn by ``SliceAssigner``,
independent of h) shows the causal effect, which is ``effect(i)`` for event i.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from overthink.monitor.assign import SliceAssigner
from overthink.monitor.events import MonitorEvent

__all__ = ["step_effect", "synthetic_events"]


def step_effect(before: float, after: float, at: int) -> Callable[[int], float]:
    """Δ(i) = ``before`` for events i < ``at``, ``after`` from then on."""
    return lambda i: before if i < at else after


def synthetic_events(
    n: int,
    *,
    seed: int = 0,
    segments: tuple[str, ...] = ("default",),
    effect: Callable[[int], float] | dict[str, Callable[[int], float]] | None = None,
    slice_fraction: float = 0.1,
    confounding: float = 0.6,
    base_quality: float = 0.85,
    model: str = "reasoner-1",
    start_ts: float = 1_767_225_600.0,
    rate_per_s: float = 50.0,
    label_share: float = 1.0,
    truncate_share: float = 0.02,
) -> Iterator[MonitorEvent]:
    """``n`` events, reproducible from ``seed``.

    ``effect`` is Δ = P(correct | high tier) − P(correct | low tier) as a function of the
    event index (one function, or one per segment; segments not named get 0).
    ``confounding`` is how much quality falls from the easiest to the hardest request.
    A ``label_share`` below 1 leaves that share of events unlabelled.
    """
    rng = np.random.default_rng(seed)
    assigner = SliceAssigner.two_tier(low=512, high=4096, slice_fraction=slice_fraction)
    if effect is None:
        effect = step_effect(0.0, 0.0, 0)
    effects = effect if isinstance(effect, dict) else dict.fromkeys(segments, effect)
    seg_idx = rng.integers(0, len(segments), size=n)
    hard = rng.random(n)
    noise = rng.normal(0.0, 0.5, size=n)
    u = rng.random(n)
    labelled = rng.random(n) < label_share
    cut = rng.random(n) < truncate_share
    urls = rng.poisson(0.5 + 2.0 * hard)
    numbers = rng.poisson(2.0 + 6.0 * hard)
    for i in range(n):
        segment = segments[int(seg_idx[i])]
        h = float(hard[i])
        request_id = f"req-{seed}-{i}"
        a = assigner.assign(request_id)
        p = base_quality - confounding * h
        log_tokens = 7.0 + 4.0 * h + float(noise[i])
        tier = None
        budget = None
        if a is not None:
            fn = effects.get(segment)
            delta = fn(i) if fn is not None else 0.0
            high = a.tier == "high"
            p += delta / 2.0 if high else -delta / 2.0
            log_tokens += 1.5 if high else -1.5
            tier, budget = a.tier, a.budget_tokens
        tokens = int(2.0 ** min(max(log_tokens, 0.0), 15.0))
        truncated = bool(cut[i])
        if budget is not None and tokens > budget:
            tokens, truncated = budget, True
        yield MonitorEvent(
            ts=start_ts + i / rate_per_s,
            request_id=request_id,
            model=model,
            segment=segment,
            budget_tier=tier,
            budget_tokens=budget,
            assignment="random" if a is not None else "policy",
            assignment_prob=a.assignment_prob if a is not None else None,
            reasoning_tokens=tokens,
            output_tokens=20 + int(30 * h),
            finish_reason="length" if truncated else "stop",
            truncated=truncated,
            covariates={"urls": float(urls[i]), "numbers": float(numbers[i])},
            quality=float(u[i] < min(max(p, 0.0), 1.0)) if labelled[i] else None,
        )
