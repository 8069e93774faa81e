"""Do the 95 % question-bootstrap intervals cover the truth 95 % of the time?

500 simulated experiments of a known Bernoulli setting: every question has its own
success probability p_q = 0.7 + U(−s, s) and k samples drawn from it, so the population
accuracy is exactly 0.7 and the k samples of a question are correlated through p_q. An
interval that resampled records instead of questions would be too narrow here.
"""

from __future__ import annotations

import pytest

from overthink.analysis.pipeline import scaling_verdicts
from overthink.analysis.synthetic import synthetic_frame

TRUE_ACCURACY = 0.7


@pytest.mark.parametrize(
    ("n_questions", "n_samples", "spread", "seed"),
    [(100, 4, 0.2, 21), (60, 8, 0.3, 22)],
)
def test_curve_intervals_cover_the_true_accuracy(
    n_questions: int, n_samples: int, spread: float, seed: int
) -> None:
    df = synthetic_frame(
        tasks=[f"sim{i:03d}" for i in range(500)], budgets=(1024,), n_questions=n_questions,
        n_samples=n_samples, base=TRUE_ACCURACY, question_spread=spread, seed=seed,
    )  # fmt: skip
    curves, _ = scaling_verdicts(df, n_boot=1000, seed=seed)
    assert len(curves) == 500
    covered = (curves["ci_low"] <= TRUE_ACCURACY) & (curves["ci_high"] >= TRUE_ACCURACY)
    assert 0.93 <= covered.mean() <= 0.97, covered.mean()
